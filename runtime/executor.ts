// The executor: runs plugin code for every kind of trigger through the sandbox, and records
// each invocation as a run (status, duration, log, error) with events and metrics.
import type { HostEvents } from './events.ts';
import { newId } from './ids.ts';
import type { Metrics } from './metrics.ts';
import type { RunRecorder } from './run-recorder.ts';
import type { Sandbox } from './sandbox/sandbox.ts';
import type { InvocationOutcome, InvokeRequest, SandboxPlugin } from './sandbox/types.ts';
import type { Run, RunKind, RunTrigger } from './store/runs.ts';

/** Records a run that did not go through the sandbox (an outside webhook, a message send). */
export type RunSink = (workspaceId: string, meta: RunMeta & { installationId?: string | null }, result: RunResult) => Run;
export interface RunResult { status: Run['status']; startedAt: number; durationMs: number; httpStatus: number | null; log: string; error: Run['error'] }

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

/** Most bytes of an error response kept on its run, so a failed run says why. */
export const ERROR_EXCERPT_BYTES = 500;

/** The start of an answer's body as one line of text (an error reply's reason), or '' when empty. */
export function bodyExcerpt(body: Uint8Array | undefined): string {
  if (!body || body.byteLength === 0) return '';
  const text = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, ERROR_EXCERPT_BYTES)).toString('utf8').replace(/\s+/g, ' ').trim();
  return body.byteLength > ERROR_EXCERPT_BYTES ? `${text}…` : text;
}

export interface ExecutorDeps { sandbox: Sandbox; recorder: RunRecorder; events: HostEvents; metrics: Metrics; now: () => number }

export function createExecutor(deps: ExecutorDeps) {
  const { sandbox, recorder, events, metrics } = deps;
  const finish = (run: Run) => {
    recorder.record(run);
    metrics.runs.inc({ kind: run.kind, status: run.status });
    if (run.durationMs !== null) metrics.runDuration.observe({ kind: run.kind }, run.durationMs / 1000);
    events.emit('run:finished', run);
  };
  const inFlight = new Map<string, Promise<unknown>>();
  return {
    /** Resolves once the run `id` is over, if it is running in this process (its response may have gone out already). */
    async whenDone(id: string): Promise<void> {
      await inFlight.get(id)?.catch(() => undefined);
    },

    /** Records a run that did not go through the sandbox (a webhook POSTed to an outside URL). */
    record: ((workspaceId, meta, result) => {
      const run: Run = {
        id: meta.runId ?? newId('run'), workspaceId, installationId: meta.installationId ?? null, kind: meta.kind, trigger: meta.trigger, target: meta.target, status: result.status,
        scheduleId: meta.scheduleId ?? null, idempotencyKey: meta.idempotencyKey ?? null, attempt: meta.attempt ?? 1, httpStatus: result.httpStatus,
        startedAt: result.startedAt, finishedAt: result.startedAt + result.durationMs, durationMs: result.durationMs, log: result.log, error: result.error,
      };
      finish(run);
      return run;
    }) as RunSink,

    async run(plugin: SandboxPlugin, request: InvokeRequest, meta: RunMeta): Promise<{ run: Run; outcome: InvocationOutcome }> {
      const startedAt = deps.now();
      const id = meta.runId ?? newId('run');
      let outcome: InvocationOutcome;
      const invoked = sandbox.invoke(plugin, request);
      inFlight.set(id, invoked);
      try {
        outcome = await invoked;
      } catch (err) {
        outcome = {
          status: 'failed', error: { code: 'INTERNAL', message: (err as Error).message }, log: '', startedAt: Date.now(), durationMs: 0,
        };
      }
      const answered = outcome.response;
      if (answered && answered.status >= 400) {
        // An error reply's body is the plugin's reason: keep its start on the run.
        const excerpt = bodyExcerpt(answered.body);
        if (excerpt) outcome = { ...outcome, log: `${outcome.log}${outcome.log && !outcome.log.endsWith('\n') ? '\n' : ''}[host] answered ${answered.status}: ${excerpt}\n` };
      }
      // A scheduled webhook's call succeeds on a 2xx only, whichever way it reached the route.
      if (meta.kind === 'webhook' && answered && (answered.status < 200 || answered.status >= 300)) {
        const excerpt = bodyExcerpt(answered.body);
        outcome = { ...outcome, status: 'failed', error: outcome.error ?? { code: 'WEBHOOK_FAILED', message: `the route answered ${answered.status}${excerpt ? `: ${excerpt}` : ''}` } };
      }
      const run: Run = {
        id, workspaceId: plugin.workspaceId, installationId: plugin.installationId, kind: meta.kind, trigger: meta.trigger,
        target: meta.target, status: outcome.status, scheduleId: meta.scheduleId ?? null, idempotencyKey: meta.idempotencyKey ?? null,
        attempt: meta.attempt ?? 1, httpStatus: outcome.response?.status ?? null, startedAt,
        finishedAt: startedAt + outcome.durationMs, durationMs: outcome.durationMs, log: outcome.log, error: outcome.error ?? null,
      };
      finish(run);
      inFlight.delete(id);
      return { run, outcome };
    },
  };
}
export type Executor = ReturnType<typeof createExecutor>;
