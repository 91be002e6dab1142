// The executor: runs plugin code through the sandbox as one run (status, duration, log,
// error), with the success rule applied once (`settle`) and the run handed to the run log.
import { newId } from '../ids.ts';
import type { Sandbox } from '../sandbox/sandbox.ts';
import type { InvocationOutcome, InvokeRequest, SandboxPlugin } from '../sandbox/types.ts';
import type { Run } from '../store/runs.ts';
import { settle } from './outcome.ts';
import type { RunLog, RunMeta } from './record.ts';

export interface Ran { run: Run; outcome: InvocationOutcome }

export interface ExecutorDeps { sandbox: Sandbox; runLog: RunLog; now: () => number }

export function createExecutor(deps: ExecutorDeps) {
  const { sandbox, runLog } = deps;
  const inFlight = new Map<string, Promise<unknown>>();
  return {
    /** Resolves once the run `id` is over, if it is running in this process (its response may have gone out already). */
    async whenDone(id: string): Promise<void> {
      await inFlight.get(id)?.catch(() => undefined);
    },

    /** Resolves once every run in flight here is over and recorded. */
    async idle(): Promise<void> {
      await Promise.allSettled([...inFlight.values()]);
    },

    /** Runs `request` in `plugin`'s isolate and records the run. Never rejects. */
    async run(plugin: SandboxPlugin, request: InvokeRequest, meta: RunMeta): Promise<Ran> {
      const startedAt = deps.now();
      const id = meta.runId ?? newId('run');
      let outcome: InvocationOutcome;
      const invoked = sandbox.invoke(plugin, request);
      const ran = (async (): Promise<Ran> => {
        try {
          outcome = await invoked;
        } catch (err) {
          outcome = { status: 'failed', error: { code: 'INTERNAL', message: (err as Error).message }, log: '', startedAt: Date.now(), durationMs: 0 };
        }
        outcome = settle(meta.kind, outcome);
        const run = runLog.record(plugin.workspaceId, { ...meta, runId: id, installationId: plugin.installationId }, {
          status: outcome.status, startedAt, durationMs: outcome.durationMs, httpStatus: outcome.response?.status ?? null,
          log: outcome.log, error: outcome.error ?? null,
        });
        inFlight.delete(id);
        return { run, outcome };
      })();
      inFlight.set(id, ran);
      return ran;
    },
  };
}
export type Executor = ReturnType<typeof createExecutor>;
