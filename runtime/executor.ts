// The executor: runs plugin code for every kind of trigger through the sandbox, and records
// each invocation as a run (status, duration, log, error) with events and metrics.
import type { HostEvents } from './events.ts';
import { newId } from './ids.ts';
import type { Metrics } from './metrics.ts';
import type { RunRecorder } from './run-recorder.ts';
import type { Sandbox } from './sandbox/sandbox.ts';
import type { InvocationOutcome, InvokeRequest, SandboxPlugin } from './sandbox/types.ts';
import type { Run, RunKind, RunTrigger } from './store/runs.ts';

export interface RunMeta {
  kind: RunKind;
  trigger: RunTrigger;
  target: string;
  scheduleId?: string | null;
  idempotencyKey?: string | null;
  attempt?: number;
}

export interface ExecutorDeps { sandbox: Sandbox; recorder: RunRecorder; events: HostEvents; metrics: Metrics; now: () => number }

export function createExecutor(deps: ExecutorDeps) {
  const { sandbox, recorder, events, metrics } = deps;
  return {
    async run(plugin: SandboxPlugin, request: InvokeRequest, meta: RunMeta): Promise<{ run: Run; outcome: InvocationOutcome }> {
      const startedAt = deps.now();
      const id = newId('run');
      let outcome: InvocationOutcome;
      try {
        outcome = await sandbox.invoke(plugin, request);
      } catch (err) {
        outcome = {
          status: 'failed', error: { code: 'INTERNAL', message: (err as Error).message }, log: '', startedAt: Date.now(), durationMs: 0,
        };
      }
      const run: Run = {
        id, workspaceId: plugin.workspaceId, installationId: plugin.installationId, kind: meta.kind, trigger: meta.trigger,
        target: meta.target, status: outcome.status, scheduleId: meta.scheduleId ?? null, idempotencyKey: meta.idempotencyKey ?? null,
        attempt: meta.attempt ?? 1, httpStatus: outcome.response?.status ?? null, startedAt,
        finishedAt: startedAt + outcome.durationMs, durationMs: outcome.durationMs, log: outcome.log, error: outcome.error ?? null,
      };
      recorder.record(run);
      metrics.runs.inc({ kind: meta.kind, status: outcome.status });
      metrics.runDuration.observe({ kind: meta.kind }, outcome.durationMs / 1000);
      events.emit('run:finished', run);
      return { run, outcome };
    },
  };
}
export type Executor = ReturnType<typeof createExecutor>;
