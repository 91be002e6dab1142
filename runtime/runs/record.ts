// The run log: the one place a finished run is built and handed on (recorder, metrics,
// events). Sandbox invocations (the executor), failures before the sandbox, webhooks POSTed
// to outside URLs and integration-message sends all end here, so every run is recorded the
// same way and exactly once.
import type { HostEvents } from '../events.ts';
import { newId } from '../ids.ts';
import type { Metrics } from '../metrics.ts';
import type { Run, RunKind, RunTrigger } from '../store/runs.ts';
import type { RunRecorder } from './recorder.ts';

export interface RunMeta {
  /** Chosen by the caller when it must name the run before it ends (the x-plughost-run header). */
  runId?: string;
  kind: RunKind;
  trigger: RunTrigger;
  target: string;
  scheduleId?: string | null;
  idempotencyKey?: string | null;
  attempt?: number;
}

export interface RunResult { status: Run['status']; startedAt: number; durationMs: number; httpStatus: number | null; log: string; error: Run['error'] }

/** Records a finished run of workspace `workspaceId`; returns it as recorded. */
export type RunSink = (workspaceId: string, meta: RunMeta & { installationId?: string | null }, result: RunResult) => Run;

export interface RunLog {
  record: RunSink;
}

export function createRunLog(deps: { recorder: RunRecorder; events: HostEvents; metrics: Metrics }): RunLog {
  const { recorder, events, metrics } = deps;
  return {
    record(workspaceId, meta, result) {
      const run: Run = {
        id: meta.runId ?? newId('run'), workspaceId, installationId: meta.installationId ?? null, kind: meta.kind, trigger: meta.trigger,
        target: meta.target.slice(0, 300), status: result.status, scheduleId: meta.scheduleId ?? null, idempotencyKey: meta.idempotencyKey ?? null,
        attempt: meta.attempt ?? 1, httpStatus: result.httpStatus, startedAt: result.startedAt, finishedAt: result.startedAt + result.durationMs,
        durationMs: result.durationMs, log: result.log, error: result.error,
      };
      recorder.record(run);
      metrics.runs.inc({ kind: run.kind, status: run.status });
      metrics.runDuration.observe({ kind: run.kind }, result.durationMs / 1000);
      events.emit('run:finished', run);
      return run;
    },
  };
}
