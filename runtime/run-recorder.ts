// Writes finished runs to the store behind the request path: runs are buffered and written
// in batches, so a plugin route pays no database round trip. Reads of the run history call
// `flush()` first, so nothing recorded is ever missing from an answer.
import type { Run } from './store/runs.ts';
import type { Store } from './store/store.ts';

export interface RunRecorder {
  record(run: Run): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createRunRecorder(store: Store, options: { flushMs?: number; maxBatch?: number; onError?: (err: unknown) => void } = {}): RunRecorder {
  const flushMs = options.flushMs ?? 100;
  const maxBatch = options.maxBatch ?? 500;
  let buffer: Run[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (timer) { clearTimeout(timer); timer = undefined; }
    const batch = buffer;
    buffer = [];
    // Writes are chained so batches land in order and flush() waits for earlier ones.
    writing = writing.then(async () => {
      if (batch.length === 0) return;
      try {
        await store.runs.insertMany(batch);
      } catch (err) {
        options.onError?.(err);
      }
    });
    return writing;
  };

  return {
    record(run) {
      buffer.push(run);
      if (buffer.length >= maxBatch) void flush();
      else if (!timer) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },
    flush,
    close: flush,
  };
}
