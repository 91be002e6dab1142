// Writes finished runs to the store behind the request path: runs are buffered and written
// in batches, so a plugin route pays no database round trip. Reads of the run history call
// `flush()` first, so nothing recorded is ever missing from an answer.
//
// Durable against an unavailable or full store: a batch that fails to write stays buffered
// (in order) and is retried with backoff (250 ms doubling to 5 s) until it lands. The buffer is
// bounded (`maxBuffered`); only when the bound forces it are the oldest waiting runs dropped,
// counted and reported through `onLost`. Each batch is written atomically (one statement, or a
// transaction when it takes several), so a retry never finds half of it already there.
import { RUNS_PER_STATEMENT, type Run } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import { isConnectionError, isStoreFull, isUniqueViolation } from '../store/dialect.ts';

export interface RunRecorderStats {
  /** Runs recorded but not yet written (buffered or being written). */
  backlog: number;
  /** Runs dropped since start: the buffer bound, a run the store refuses, or close() with the store down. */
  lost: number;
  /** Message of the last failed write; null once a write succeeds again. */
  lastError: string | null;
  /** When (Date.now()) a batch last landed. */
  lastWriteAt: number | null;
}

export interface RunRecorder {
  record(run: Run): void;
  /** Writes what is buffered; resolves after the current attempt even when the store is down (failed runs stay buffered). */
  flush(): Promise<void>;
  /** Flushes once more, then reports whatever is still buffered as lost. */
  close(): Promise<void>;
  stats(): RunRecorderStats;
}

export interface RunRecorderOptions {
  /** How long a run waits for company before its batch is written (default 100 ms). */
  flushMs?: number;
  /** Runs per write (default 500). */
  maxBatch?: number;
  /** Most runs held while the store cannot take them (default 50,000); past it the oldest are dropped. */
  maxBuffered?: number;
  /** First retry delay after a failed write (default 250 ms), doubled per failure. */
  retryMinMs?: number;
  /** Longest retry delay (default 5 s). */
  retryMaxMs?: number;
  /** Every failed write. */
  onError?: (err: unknown) => void;
  /** Runs dropped (never written), with the error that kept them out. */
  onLost?: (count: number, err: unknown) => void;
}

export const RUN_RECORDER_DEFAULTS = { flushMs: 100, maxBatch: 500, maxBuffered: 50_000, retryMinMs: 250, retryMaxMs: 5_000 } as const;

/** Errors worth retrying the same batch for: the store is away, full or busy, not refusing the rows. */
const isTransient = (err: unknown): boolean => {
  const code = (err as { code?: string } | null)?.code;
  return isConnectionError(err) || isStoreFull(err) || code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_IOERR'
    || code === '40001' || code === '40P01' || code === '57014' /* statement_timeout */ || code === '25006' /* read-only (failover) */
    || code === '53200' || code === '53300' /* out of memory, too many connections */ || code === '55P03' || code === '58030' /* lock, I/O error */;
};

export function createRunRecorder(store: Store, options: RunRecorderOptions = {}): RunRecorder {
  const flushMs = options.flushMs ?? RUN_RECORDER_DEFAULTS.flushMs;
  const maxBuffered = Math.max(1, options.maxBuffered ?? RUN_RECORDER_DEFAULTS.maxBuffered);
  const maxBatch = Math.max(1, Math.min(options.maxBatch ?? RUN_RECORDER_DEFAULTS.maxBatch, maxBuffered));
  const retryMinMs = options.retryMinMs ?? RUN_RECORDER_DEFAULTS.retryMinMs;
  const retryMaxMs = options.retryMaxMs ?? RUN_RECORDER_DEFAULTS.retryMaxMs;

  // The waiting runs, oldest first, are items[head…]: append and drop-oldest are both O(1).
  let items: Run[] = [];
  let head = 0;
  // The batch being written, taken off the front of the queue; put back in front if it fails.
  let flight: Run[] = [];
  let lost = 0;
  let lastError: unknown = null;
  let lastWriteAt: number | null = null;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let retrying = false; // the timer is a backoff retry: record() does not write early
  let chain: Promise<void> = Promise.resolve();
  let busy = false;
  let kicked = false; // record() queued a drain that has not started yet
  let lostToReport = 0;

  const queued = () => items.length - head;

  const reportLost = (count: number) => {
    if (count <= 0) return;
    lost += count;
    if (!options.onLost) return;
    // Coalesced: a full buffer drops on every record(); the callback hears once per turn.
    if (lostToReport === 0) {
      queueMicrotask(() => {
        const n = lostToReport;
        lostToReport = 0;
        options.onLost?.(n, lastError ?? new Error('the run buffer is full'));
      });
    }
    lostToReport += count;
  };

  const compact = () => {
    if (head > 1024 && head * 2 > items.length) {
      items = items.slice(head);
      head = 0;
    }
  };

  const arm = (ms: number, retry: boolean) => {
    if (timer) clearTimeout(timer);
    retrying = retry;
    timer = setTimeout(() => {
      timer = undefined;
      retrying = false;
      void drain();
    }, ms);
    timer.unref();
  };

  /** Writes `batch` (which has already failed once as a whole) run by run: duplicates have landed, refused runs are lost. */
  const writeOneByOne = async (batch: Run[]): Promise<Run[]> => {
    for (let i = 0; i < batch.length; i++) {
      try {
        await store.runs.insertMany([batch[i]!]);
      } catch (err) {
        if (isUniqueViolation(err)) continue; // it landed in an attempt whose answer was lost
        if (isTransient(err)) return batch.slice(i);
        lastError = err;
        options.onError?.(err);
        reportLost(1);
      }
    }
    return [];
  };

  /** One write of up to maxBatch runs; false when it failed (the runs are back in the queue). */
  const writeOnce = async (): Promise<boolean> => {
    const n = Math.min(maxBatch, queued());
    if (n === 0) return true;
    flight = items.slice(head, head + n);
    head += n;
    compact();
    let rest: Run[] = [];
    let failure: unknown = null;
    try {
      // One statement is atomic by itself; more need a transaction, so a retry never finds half the batch there.
      if (flight.length <= RUNS_PER_STATEMENT) await store.runs.insertMany(flight);
      else await store.transaction((tx) => tx.runs.insertMany(flight));
    } catch (err) {
      failure = err;
      if (!isTransient(err)) rest = await writeOneByOne(flight);
      else rest = flight;
    }
    if (rest.length === 0) {
      flight = [];
      failures = 0;
      lastError = null;
      lastWriteAt = Date.now();
      return true;
    }
    // Back in front of the queue, in order. Drops while the batch was out took newer runs, so the bound still holds.
    if (head >= rest.length) {
      head -= rest.length;
      for (let i = 0; i < rest.length; i++) items[head + i] = rest[i]!;
    } else {
      items = rest.concat(items.slice(head));
      head = 0;
    }
    flight = [];
    failures++;
    lastError = failure;
    options.onError?.(failure);
    return false;
  };

  /** Writes until the queue is empty, an attempt fails, or `rounds` batches were written. */
  const drain = (rounds = Infinity): Promise<void> => {
    chain = chain.then(async () => {
      busy = true;
      kicked = false;
      try {
        let ok = true;
        for (let i = 0; i < rounds && queued() > 0; i++) {
          ok = await writeOnce();
          if (!ok) break;
        }
        if (ok && retrying && timer) { clearTimeout(timer); timer = undefined; retrying = false; }
        if (!ok) arm(Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures - 1, 20)), true);
        else if (queued() > 0 && !timer) arm(flushMs, false);
      } finally {
        busy = false;
      }
    });
    return chain;
  };

  return {
    record(run) {
      items.push(run);
      if (queued() + flight.length > maxBuffered) {
        // Over the bound: drop the oldest run not being written (the one in flight may still land).
        if (queued() > 0) {
          head++;
          compact();
        }
        reportLost(1);
      }
      if (retrying || busy || kicked) return; // a retry is due, or the writer loops until the queue is empty
      if (queued() >= maxBatch) {
        if (timer) { clearTimeout(timer); timer = undefined; }
        kicked = true;
        void drain();
      } else if (!timer) arm(flushMs, false);
    },
    flush() {
      if (timer && !retrying) { clearTimeout(timer); timer = undefined; }
      // Everything recorded so far, in as many batches as that takes (plus one for late arrivals).
      return drain(Math.ceil((queued() + flight.length) / maxBatch) + 1);
    },
    async close() {
      if (timer) { clearTimeout(timer); timer = undefined; retrying = false; }
      await drain(Math.ceil((queued() + flight.length) / maxBatch) + 1);
      if (timer) { clearTimeout(timer); timer = undefined; retrying = false; }
      const left = queued();
      if (left > 0) {
        items = [];
        head = 0;
        reportLost(left);
        await new Promise<void>((resolve) => queueMicrotask(resolve)); // let onLost hear it before close resolves
      }
    },
    stats() {
      return {
        backlog: queued() + flight.length,
        lost,
        lastError: lastError === null ? null : String((lastError as Error)?.message ?? lastError),
        lastWriteAt,
      };
    },
  };
}
