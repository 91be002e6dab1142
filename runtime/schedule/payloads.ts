// What handlers receive when a schedule fires them, built in one place for the scheduler
// and the manual triggers: Freshworks' onScheduledEvent payload and Haplo's hook arguments.
import { instantToWall, wallFields } from './zoned-time.ts';

/** The account as Freshworks payloads name it: the workspace, with the product's domain and region when set. */
export interface PayloadAccount { id: string; domain?: string | null; region?: string | null }

/** What every Freshworks event payload carries: account, event, region, time, domain and iparams. */
export function appEventPayload(account: PayloadAccount, iparams: Record<string, unknown>, event: string, timestamp: number) {
  return { account_id: account.id, event, region: account.region ?? 'US', timestamp, domain: account.domain ?? `${account.id}.plughost.local`, iparams };
}

/** The payload a Freshworks `onScheduledEvent` handler receives. */
export function scheduledEventPayload(account: PayloadAccount, iparams: Record<string, unknown>, o: { timestamp: number; data: unknown; name: string; idempotencyKey: string }) {
  const { iparams: _, ...common } = appEventPayload(account, iparams, 'onScheduledEvent', o.timestamp);
  return { ...common, data: o.data, iparams, idempotencyKey: o.idempotencyKey, schedule: { name: o.name } };
}

/** A Haplo schedule hook's arguments after `response`: (year, month0to11, dayOfMonth, hour, dayOfWeek) of `instant` in `timezone`. */
export function hookArguments(instant: number, timezone: string): number[] {
  const wall = instantToWall(instant, timezone);
  const f = wallFields(wall);
  return [f.year, f.month - 1, f.day, f.hour, new Date(wall).getUTCDay()];
}

