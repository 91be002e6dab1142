// Route throughput, measured from outside: a trivial plugin route served by a real plughost
// host, against bare Koa + @koa/router and bare node:http answering the same path with the same
// JSON. Each server runs in its own process (server-child.ts) and the load comes from another
// (the load generator's child, by default), so no side pays for the load generator. After a
// warm-up round each, the servers are loaded in turn, round after round, each round starting
// with the next one (A B C, B C A, C A B, …),
// and every figure is reported beside its ratio to Koa in the same run, since the machine's
// noise hits all sides alike. CPU time per request is each server's own CPU time (all its
// threads) over the round, divided by the requests it answered.
//
// `baselineRoot` adds a fourth server: plughost built from another checkout (for example the
// commit before a change, in a `git worktree`), so a change's cost is measured in one run.
import { fork, type ChildProcess } from 'node:child_process';
import { startLoadGen, type LoadGen, type LoadGenMode, type LoadResult } from './loadgen.ts';
import { createClient, routePath } from './servers.ts';
import { coefficientOfVariation, median } from './stats.ts';

export interface ThroughputOptions {
  /** Measured rounds per server (at least 1; the bench uses 3 or more). */
  rounds?: number;
  durationSec?: number;
  warmupSec?: number;
  /** A fixed number of requests per measured round instead of `durationSec` (smoke test). */
  amount?: number;
  /** A fixed number of requests per warm-up round instead of `warmupSec` (smoke test). */
  warmupAmount?: number;
  connections?: number;
  /** Where autocannon runs: its own child process (default) or the bench's process. Never in a server's. */
  loadgen?: LoadGenMode;
  /** Another plughost checkout to measure beside this one (`plughost@baseline`). */
  baselineRoot?: string;
  /** Progress, one line per round (the bench prints it on stderr). */
  onProgress?: (line: string) => void;
}

export interface ThroughputSide {
  rps: number[];
  medianRps: number;
  /** Standard deviation / mean of the rounds' rps: how steady the side was. */
  cv: number;
  latencyP50Ms: number[];
  latencyP99Ms: number[];
  /** The server's own CPU time per request answered, each round (µs). */
  cpuUsPerRequest: number[];
  medianCpuUs: number;
  /** median rps / Koa's median rps. */
  rpsRatio: number;
  /** median CPU per request / Koa's. */
  cpuRatio: number;
}

export type ServerName = 'plughost' | 'koa' | 'node-http' | 'plughost@baseline';

export interface ThroughputResult {
  loadgen: LoadGenMode;
  connections: number;
  rounds: number;
  durationSec: number | null;
  amount: number | null;
  path: string;
  servers: Partial<Record<ServerName, ThroughputSide>> & Record<'plughost' | 'koa' | 'node-http', ThroughputSide>;
  /** median(plughost rps) / median(koa rps). */
  ratio: number;
  /** plughost / plughost@baseline median rps, when a baseline was measured. */
  baselineRatio: number | null;
}

const WORKSPACE = 'bench';
const N = 42;

interface ServerProcess {
  name: ServerName;
  url: string;
  cpuMicros(): Promise<number>;
  close(): Promise<void>;
}

async function startServer(name: ServerName, args: string[]): Promise<ServerProcess> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  const child: ChildProcess = fork(new URL('./server-child.ts', import.meta.url), args, {
    execArgv: ['--no-node-snapshot'], env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${name} server exited (${code}) before it was ready`)));
    child.on('message', (m: { type?: string; url?: string }) => { if (m.type === 'ready') resolve(m.url!); });
  });
  return {
    name, url,
    cpuMicros: () => new Promise((resolve) => {
      const onMessage = (m: { type?: string; micros?: number }) => {
        if (m.type !== 'cpu') return;
        child.off('message', onMessage);
        resolve(m.micros!);
      };
      child.on('message', onMessage);
      child.send({ type: 'cpu' });
    }),
    async close() {
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

function side(results: LoadResult[], cpu: number[], koa?: { medianRps: number; medianCpuUs: number }): ThroughputSide {
  const rps = results.map((r) => r.rps);
  const medianRps = median(rps);
  const medianCpuUs = median(cpu);
  return {
    rps, medianRps, cv: coefficientOfVariation(rps),
    latencyP50Ms: results.map((r) => r.latencyP50Ms), latencyP99Ms: results.map((r) => r.latencyP99Ms),
    cpuUsPerRequest: cpu, medianCpuUs,
    rpsRatio: koa ? medianRps / koa.medianRps : 1, cpuRatio: koa ? medianCpuUs / koa.medianCpuUs : 1,
  };
}

function checkClean(name: string, r: LoadResult): void {
  if (r.requests <= 0 || r.errors > 0 || r.non2xx > 0 || r.timeouts > 0) {
    throw new Error(`${name}: ${r.requests} requests, ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx answers; the round is not valid`);
  }
}

export async function measureRouteThroughput(opts: ThroughputOptions = {}): Promise<ThroughputResult> {
  const rounds = Math.max(1, opts.rounds ?? 5);
  const connections = opts.connections ?? 32;
  const durationSec = opts.durationSec ?? 3;
  const warmupSec = opts.warmupSec ?? 2;
  const progress = opts.onProgress ?? (() => undefined);
  const path = routePath(WORKSPACE, N);

  const specs: Array<[ServerName, string[]]> = [['plughost', ['plughost']], ['koa', ['koa']], ['node-http', ['node-http']]];
  if (opts.baselineRoot) specs.push(['plughost@baseline', ['plughost', opts.baselineRoot]]);
  const servers: ServerProcess[] = [];
  let loadgen: LoadGen | undefined;
  try {
    for (const [name, args] of specs) servers.push(await startServer(name, args));
    // All must answer the same bytes before their speed means anything.
    const client = createClient();
    try {
      for (const s of servers) await client.check(s.url + path, N);
    } finally {
      client.close();
    }
    loadgen = await startLoadGen(opts.loadgen ?? 'child');
    const job = (url: string, warm: boolean) => ({
      url, connections,
      ...(warm
        ? (opts.warmupAmount !== undefined ? { amount: opts.warmupAmount } : { durationSec: warmupSec })
        : (opts.amount !== undefined ? { amount: opts.amount } : { durationSec })),
    });

    for (const s of servers) {
      const r = await loadgen.run(job(s.url + path, true));
      checkClean(`${s.name} warm-up`, r);
      progress(`throughput: warm-up ${s.name.padEnd(17)} ${Math.round(r.rps)} rps`);
    }
    const results = new Map<ServerName, { load: LoadResult[]; cpu: number[] }>(servers.map((s) => [s.name, { load: [], cpu: [] }]));
    for (let i = 1; i <= rounds; i++) {
      // Each round starts with the next server, so that no server always follows the same one.
      const order = servers.map((_, k) => servers[(k + i - 1) % servers.length]!);
      for (const s of order) {
        const cpu0 = await s.cpuMicros();
        const r = await loadgen.run(job(s.url + path, false));
        const cpu = (await s.cpuMicros()) - cpu0;
        checkClean(`${s.name} round ${i}`, r);
        const perRequest = cpu / r.requests;
        results.get(s.name)!.load.push(r);
        results.get(s.name)!.cpu.push(perRequest);
        progress(`throughput: round ${i} ${s.name.padEnd(17)} ${Math.round(r.rps)} rps, ${Math.round(perRequest)} µs CPU per request (p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms)`);
      }
    }
    const koaData = results.get('koa')!;
    const koa = side(koaData.load, koaData.cpu);
    const out = {} as ThroughputResult['servers'];
    for (const [name, data] of results) out[name] = name === 'koa' ? koa : side(data.load, data.cpu, koa);
    return {
      loadgen: loadgen.mode, connections, rounds,
      durationSec: opts.amount !== undefined ? null : durationSec, amount: opts.amount ?? null,
      path: '/workspaces/:ws/:ns/:route?n=42',
      servers: out,
      ratio: out.plughost.rpsRatio,
      baselineRatio: out['plughost@baseline'] ? out.plughost.medianRps / out['plughost@baseline'].medianRps : null,
    };
  } finally {
    await loadgen?.close();
    for (const s of servers) await s.close();
  }
}

if (import.meta.main) {
  const result = await measureRouteThroughput({ onProgress: (l) => process.stderr.write(l + '\n') });
  console.log(JSON.stringify(result, null, 2));
}
