// Firing one occurrence: the schedule's trigger (a scheduled webhook, a plugin's
// `onScheduledEvent`, or a Haplo hook) goes through the one run path, and its run becomes the
// occurrence's outcome. Every attempt is a run carrying the occurrence's idempotency key.
import type { Runs, Trigger } from '../runs/execute.ts';
import type { Fire } from './scheduler.ts';

export function createFire(runs: Runs): Fire {
  return async (s, o, attempt) => {
    let trigger: Trigger;
    if (s.kind === 'webhook') trigger = { kind: 'webhook', schedule: s, occurrence: o };
    else if (s.kind === 'plugin') {
      const spec = s.spec as { name: string; data: unknown };
      trigger = { kind: 'event', workspaceId: s.workspaceId, installationId: s.installationId!, name: spec.name, data: spec.data, timestamp: o.dueAt, idempotencyKey: o.idempotencyKey };
    } else if (s.kind === 'background') {
      trigger = { kind: 'background', workspaceId: s.workspaceId, installationId: s.installationId!, spec: s.spec as never, idempotencyKey: o.idempotencyKey };
    } else {
      trigger = { kind: 'hook', workspaceId: s.workspaceId, installationId: s.installationId!, hook: s.name!, instant: o.dueAt, timezone: (s.recurrence as { timezone: string }).timezone, idempotencyKey: o.idempotencyKey };
    }
    const execution = await runs.execute(trigger, { trigger: attempt.trigger, scheduleId: s.id, attempt: attempt.attempt });
    const { run, noRetry } = await execution.done;
    const ok = run.status === 'succeeded';
    return { ok, runId: run.id, error: ok ? undefined : run.error ? `${run.error.code}: ${run.error.message.split('\n')[0]}` : 'the run failed', noRetry };
  };
}
