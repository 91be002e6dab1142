// Freshworks `$schedule`, host side: the `schedule.*` ops. The rules of Freshworks' docs:
// `data` JSON of at most 4 KB, `schedule_at` at least 5 minutes ahead, at most 1000 one-time
// and 1 recurring schedule per installation (all host options), and for `days` the time of
// day comes from `schedule_at`. Failures are `{status, message}`: 400, 404, 409, 429.
import { newId } from '../ids.ts';
import type { Ops, SandboxPlugin } from '../sandbox/types.ts';
import type { Schedule } from '../store/schedules.ts';
import type { Store } from '../store/store.ts';
import type { Recurrence } from './recurrence.ts';

const LEAD_SLACK_MS = 5_000;

export interface PluginScheduleLimits { minLeadMs: number; maxOneTime: number; maxRecurring: number; minRepeatMinutes: number; dataMaxBytes: number }

interface Spec { name: string; data: unknown; schedule_at: string; repeat?: { time_unit: 'minutes' | 'hours' | 'days'; frequency: number } }

const fail = (status: number, message: string) => Object.assign(new Error(message), { status });
const UNIT_MS = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const;

function checkSpec(args: Record<string, unknown>, now: number, limits: PluginScheduleLimits): Spec {
  const { name, data, schedule_at: at, repeat } = args;
  if (typeof name !== 'string' || name.length < 1 || name.length > 128) throw fail(400, 'name must be a string of 1 to 128 characters');
  if (data === undefined || data === null || typeof data !== 'object' || Array.isArray(data)) throw fail(400, 'data must be a JSON object');
  const size = Buffer.byteLength(JSON.stringify(data));
  if (size > limits.dataMaxBytes) throw fail(400, `data is ${size} bytes; it must not exceed ${limits.dataMaxBytes} bytes (4 KB)`);
  if (typeof at !== 'string' || !/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})?$/.test(at)) throw fail(400, 'schedule_at must be an ISO date-time such as 2018-06-10T07:00:00.860Z');
  // Without an offset the time is UTC, Freshworks' default zone, whatever the host's own zone.
  const atMs = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(at) ? at : `${at}Z`);
  if (Number.isNaN(atMs)) throw fail(400, 'schedule_at must be an ISO date-time such as 2018-06-10T07:00:00.860Z');
  // An app computes `Date.now() + 5 minutes` a moment before its call reaches the host: that counts as 5 minutes.
  if (atMs < now + limits.minLeadMs - LEAD_SLACK_MS) throw fail(400, `schedule_at must be at least ${Math.round(limits.minLeadMs / 60_000)} minutes from the current time`);
  const spec: Spec = { name, data, schedule_at: new Date(atMs).toISOString() };
  if (repeat !== undefined && repeat !== null) {
    const r = repeat as { time_unit?: unknown; frequency?: unknown };
    if (typeof r !== 'object' || !['minutes', 'hours', 'days'].includes(r.time_unit as string)) throw fail(400, 'repeat.time_unit must be minutes, hours or days');
    if (!Number.isInteger(r.frequency) || (r.frequency as number) < 1 || (r.frequency as number) > 10_000) throw fail(400, 'repeat.frequency must be a positive integer');
    if (r.time_unit === 'minutes' && (r.frequency as number) < limits.minRepeatMinutes) throw fail(400, `repeat.frequency must be at least ${limits.minRepeatMinutes} for minutes`);
    spec.repeat = { time_unit: r.time_unit as 'minutes' | 'hours' | 'days', frequency: r.frequency as number };
  }
  return spec;
}

function recurrenceOf(spec: Spec): Recurrence {
  // Intervals run from schedule_at in UTC, so `days` keeps schedule_at's time of day.
  return { type: 'interval', at: Date.parse(spec.schedule_at), everyMs: spec.repeat ? UNIT_MS[spec.repeat.time_unit] * spec.repeat.frequency : undefined };
}

const keyOf = (installationId: string, name: string) => `plugin:${installationId}:${name}`;

export function pluginScheduleOps(deps: { store: Store; now: () => number; limits: PluginScheduleLimits; changed: () => void }): Ops {
  const { store, now, limits } = deps;

  /** Enforces the per-installation counts for a schedule about to become `spec`. */
  const checkLimits = async (plugin: SandboxPlugin, spec: Spec, replacing?: Schedule) => {
    const pending = (await store.schedules.ofInstallation(plugin.installationId, 'plugin'))
      .filter((s) => s.nextRunAt !== null && s.id !== replacing?.id);
    const recurring = pending.filter((s) => (s.spec as unknown as Spec).repeat).length;
    if (spec.repeat && recurring >= limits.maxRecurring) throw fail(429, `at most ${limits.maxRecurring} recurring schedule(s) per installation`);
    if (!spec.repeat && pending.length - recurring >= limits.maxOneTime) throw fail(429, `at most ${limits.maxOneTime} one-time schedules per installation`);
  };

  const find = async (plugin: SandboxPlugin, args: Record<string, unknown>) => {
    if (typeof args.name !== 'string' || args.name === '') throw fail(400, 'name is required');
    const s = await store.schedules.byKey(keyOf(plugin.installationId, args.name));
    if (!s) throw fail(404, `no schedule named ${args.name}`);
    return s;
  };

  return {
    async 'schedule.create'({ args, plugin }) {
      const at = now();
      const spec = checkSpec(args, at, limits);
      const existing = await store.schedules.byKey(keyOf(plugin.installationId, spec.name));
      if (existing && existing.nextRunAt !== null) throw fail(409, `a schedule named ${spec.name} exists`);
      await checkLimits(plugin, spec);
      if (existing) await store.schedules.delete(existing.id); // a finished one-time schedule frees its name
      const recurrence = recurrenceOf(spec);
      const inserted = await store.schedules.insert({
        id: newId('sch', at), workspaceId: plugin.workspaceId, installationId: plugin.installationId, kind: 'plugin', name: spec.name,
        uniqueKey: keyOf(plugin.installationId, spec.name), spec: spec as never, recurrence, active: true, nextRunAt: Date.parse(spec.schedule_at),
        misfire: 'coalesce', overlap: 'skip', maxRetries: 0, secret: null, createdAt: at, updatedAt: at,
      });
      if (!inserted) throw fail(409, `a schedule named ${spec.name} exists`);
      deps.changed();
      return { status: 200, message: 'Schedule created successfully' };
    },
    async 'schedule.fetch'({ args, plugin }) {
      const s = await find(plugin, args);
      return s.spec;
    },
    async 'schedule.update'({ args, plugin }) {
      const s = await find(plugin, args);
      const old = s.spec as unknown as Spec;
      const merged = { ...old, ...args, repeat: 'repeat' in args ? args.repeat : old.repeat } as Record<string, unknown>;
      const spec = checkSpec(merged, now(), limits);
      await checkLimits(plugin, spec, s);
      const recurrence = recurrenceOf(spec);
      await store.schedules.update({ ...s, spec: spec as never, recurrence, nextRunAt: Date.parse(spec.schedule_at), updatedAt: now() });
      deps.changed();
      return { status: 200, message: 'Schedule updated successfully' };
    },
    async 'schedule.delete'({ args, plugin }) {
      const s = await find(plugin, args);
      await store.schedules.delete(s.id);
      return { status: 200, message: 'Schedule deleted successfully' };
    },
  };
}
