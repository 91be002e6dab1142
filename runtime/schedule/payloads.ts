// What handlers receive when a schedule fires them, built in one place for the scheduler
// and the manual triggers: Freshworks' onScheduledEvent payload and Haplo's hook arguments.
import { instantToWall, wallFields } from './zoned-time.ts';

/** What every Freshworks event payload carries: account, event, region, time, domain and iparams. */
export function appEventPayload(workspaceId: string, iparams: Record<string, unknown>, event: string, timestamp: number) {
  return { account_id: workspaceId, event, region: 'US', timestamp, domain: `${workspaceId}.plughost.local`, iparams };
}

/** The payload a Freshworks `onScheduledEvent` handler receives. */
export function scheduledEventPayload(workspaceId: string, iparams: Record<string, unknown>, o: { timestamp: number; data: unknown; name: string; idempotencyKey: string }) {
  const { iparams: _, ...common } = appEventPayload(workspaceId, iparams, 'onScheduledEvent', o.timestamp);
  return { ...common, data: o.data, iparams, idempotencyKey: o.idempotencyKey, schedule: { name: o.name } };
}

/** A Haplo schedule hook's arguments after `response`: (year, month0to11, dayOfMonth, hour, dayOfWeek) of `instant` in `timezone`. */
export function hookArguments(instant: number, timezone: string): number[] {
  const wall = instantToWall(instant, timezone);
  const f = wallFields(wall);
  return [f.year, f.month - 1, f.day, f.hour, new Date(wall).getUTCDay()];
}

