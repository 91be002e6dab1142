// Haplo schedule hooks: when an installation's code registers `hScheduleHourly` or one of the
// daily hooks with `P.hook`, it gets one schedule per hook, in its workspace's time zone.
// Each installation's hook runs as its own occurrence, so one failing does not stop another.
import { newId } from '../ids.ts';
import type { Installation } from '../store/installations.ts';
import type { Store } from '../store/store.ts';
import { nextAfter, type Recurrence } from './recurrence.ts';

/** Haplo's schedule hooks and the local hour each fires at (undefined: every hour). */
export const SCHEDULE_HOOKS: Record<string, number | undefined> = {
  hScheduleHourly: undefined,
  hScheduleDailyMidnight: 0,
  hScheduleDailyEarly: 6,
  hScheduleDailyMidday: 12,
  hScheduleDailyLate: 18,
};

const keyOf = (installationId: string, hook: string) => `hook:${installationId}:${hook}`;

/** Makes the installation's hook schedules match the hooks its code registered and its active state. */
export async function syncHookSchedules(store: Store, inst: Installation, registered: readonly string[], now: number): Promise<void> {
  const ws = await store.workspaces.require(inst.workspaceId);
  const wanted = new Set(registered.filter((h) => Object.hasOwn(SCHEDULE_HOOKS, h)));
  for (const s of await store.schedules.ofInstallation(inst.id, 'hook')) {
    if (!wanted.has(s.name!)) await store.schedules.delete(s.id);
  }
  for (const hook of wanted) {
    const recurrence: Recurrence = { type: 'hook', timezone: ws.timezone, hour: SCHEDULE_HOOKS[hook] };
    const existing = await store.schedules.byKey(keyOf(inst.id, hook));
    if (existing) {
      if (existing.active !== inst.active) {
        await store.schedules.update({ ...existing, active: inst.active, nextRunAt: inst.active ? nextAfter(recurrence, now) : existing.nextRunAt, updatedAt: now });
      }
      continue;
    }
    await store.schedules.insert({
      id: newId('hk', now), workspaceId: inst.workspaceId, installationId: inst.id, kind: 'hook', name: hook, uniqueKey: keyOf(inst.id, hook),
      spec: { hook }, recurrence, active: inst.active, nextRunAt: nextAfter(recurrence, now), misfire: 'coalesce', overlap: 'skip',
      maxRetries: 3, secret: null, createdAt: now, updatedAt: now,
    });
  }
}

/** Pauses or resumes an installation's plugin schedules with it. */
export async function syncPluginSchedules(store: Store, inst: Installation, now: number): Promise<void> {
  for (const s of await store.schedules.ofInstallation(inst.id, 'plugin')) {
    if (s.active === inst.active) continue;
    const next = inst.active && s.nextRunAt !== null ? (s.nextRunAt > now ? s.nextRunAt : nextAfter(s.recurrence, now)) : s.nextRunAt;
    await store.schedules.update({ ...s, active: inst.active, nextRunAt: next, updatedAt: now });
  }
}
