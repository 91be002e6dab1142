// The load generator behind the throughput bench: autocannon, either in this process or in
// a long-lived child process (loadgen-child.ts) that runs one job at a time over IPC. Both
// give the same summary. In-process is the default: see route-throughput.ts for why.
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

export type LoadGenMode = 'child' | 'inprocess';

export interface LoadJob {
  url: string;
  connections: number;
  /** Seconds to run; ignored when `amount` is set. */
  durationSec?: number;
  /** A fixed number of requests instead of a duration (the smoke test uses this). */
  amount?: number;
}

export interface LoadResult {
  requests: number;
  durationSec: number;
  rps: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface LoadGen {
  readonly mode: LoadGenMode;
  run(job: LoadJob): Promise<LoadResult>;
  close(): Promise<void>;
}

// autocannon ships no types; this is the part of its API (README "Programmatically") used here.
interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: { url: string; connections: number; duration?: number; amount?: number; pipelining?: number; sampleInt?: number }) => Promise<AutocannonResult>;

/** Runs one autocannon job in the calling process. */
export async function runAutocannon(job: LoadJob): Promise<LoadResult> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const r = await autocannon({
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    // autocannon only notices the end of a run at its next sample tick (default every 1000 ms),
    // and counts the idle wait in `duration`: sampling every 100 ms keeps that error small.
    // Only the totals are used, so the finer request histogram costs nothing that matters.
    sampleInt: 100,
    ...(job.amount !== undefined ? { amount: job.amount } : { duration: job.durationSec ?? 3 }),
  });
  return {
    requests: r.requests.total,
    durationSec: r.duration,
    rps: r.duration > 0 ? r.requests.total / r.duration : 0,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
  };
}

export async function startLoadGen(mode: LoadGenMode): Promise<LoadGen> {
  if (mode === 'inprocess') return { mode, run: runAutocannon, close: async () => undefined };
  return startChildLoadGen();
}

type ChildReply = { id: number; ok: true; result: LoadResult } | { id: number; ok: false; message: string };

async function startChildLoadGen(): Promise<LoadGen> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the child is no test, even when the smoke test starts it
  delete env.NODE_OPTIONS;
  const child: ChildProcess = fork(path.join(import.meta.dirname, 'loadgen-child.ts'), [], {
    execArgv: [], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json',
  });
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`the load generator exited (${signal ?? code}) during a job`));
    pending.clear();
    resolve();
  }));
  child.on('message', (raw) => {
    const reply = raw as ChildReply;
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`load generator: ${reply.message}`));
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    mode: 'child',
    run(job) {
      if (exited) return Promise.reject(new Error('the load generator has exited'));
      const id = ++nextId;
      return new Promise<LoadResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, job });
      });
    },
    async close() {
      if (!exited && child.connected) child.disconnect();
      await exit;
    },
  };
}
