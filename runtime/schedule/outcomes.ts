// Occurrence outcomes are written in groups: a finished occurrence waits a moment for company
// (`delayMs`, only while other runs are still going), then every outcome that is waiting is
// written in one statement, after `beforeWrite` (the run log's flush: a finished occurrence must
// never be on record without its run). Each outcome counts only if this node still holds the
// lease. A write that finds the store unreachable or full is retried until the lease is over;
// after that the lease decides, as after a crash.
import type { Logger } from '../logger.ts';
import type { FinishChange } from '../store/occurrences.ts';
import { isConnectionError, isStoreFull } from '../store/dialect.ts';
import type { Store } from '../store/store.ts';

export interface OutcomesDeps {
  store: Store;
  log: Logger;
  owner: string;
  leaseMs: number;
  /** How long an outcome waits for others while runs are in flight. */
  delayMs: number;
  /** Most outcomes per write. */
  maxBatch: number;
  /** True while other runs may finish soon (worth waiting for). */
  busy: () => boolean;
  beforeWrite?: () => Promise<void>;
}

/** true: recorded; false: the lease was lost (another node may re-run it); undefined: not recorded, the lease decides. */
export type Recorded = boolean | undefined;

export function createOutcomes(deps: OutcomesDeps) {
  const { store, log, owner } = deps;
  const waiting: Array<{ change: FinishChange; resolve: (r: Recorded) => void }> = [];
  let timer: NodeJS.Timeout | undefined;
  let writing = false;

  const writeDurably = async (batch: typeof waiting) => {
    const deadline = Date.now() + deps.leaseMs;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        await deps.beforeWrite?.();
        const done = await store.occurrences.finishMany(owner, batch.map((w) => w.change));
        for (const w of batch) w.resolve(done.has(w.change.id));
        return;
      } catch (err) {
        if (!(isConnectionError(err) || isStoreFull(err)) || Date.now() + delay > deadline) {
          log.error({ err, occurrences: batch.length }, 'could not record occurrences\' outcomes; their leases will decide');
          for (const w of batch) w.resolve(undefined);
          return;
        }
        log.warn({ err: (err as Error).message, occurrences: batch.length, retryInMs: delay }, 'the store is unavailable; retrying occurrences\' outcomes');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  };

  const write = async () => {
    if (timer) { clearTimeout(timer); timer = undefined; }
    writing = true;
    try {
      await writeDurably(waiting.splice(0, deps.maxBatch));
    } finally {
      writing = false;
      schedule(); // what arrived meanwhile waits by the same rule
    }
  };

  function schedule() {
    if (writing || waiting.length === 0) return;
    if (waiting.length >= deps.maxBatch || !deps.busy()) void write();
    else timer ??= setTimeout(() => { timer = undefined; void write(); }, deps.delayMs);
  }

  return {
    /** Records one outcome, in the next group write. */
    record(change: FinishChange): Promise<Recorded> {
      return new Promise<Recorded>((resolve) => {
        waiting.push({ change, resolve });
        schedule();
      });
    },
  };
}
