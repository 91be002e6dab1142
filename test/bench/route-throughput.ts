// Route throughput: requests per second of a trivial plugin route served by a real plughost
// host, against a bare Koa + @koa/router app answering the same path with the same JSON.
// The two are loaded alternately (warm-up round each, then A, B, A, B, ...) by the same load
// generator, and the result is the ratio of the medians, so machine noise hits both sides.
//
// Load generator placement: both were tried on the 2-core bench machine (10 runs each of
// 5 x 3 s rounds at 32 connections, interleaved, some on a quiet machine, some while other
// test suites ran). The load generator is kept IN THIS PROCESS, because that was steadier:
//   in-process: per-round coefficient of variation, median over runs, plughost 13 %, bare 20 %;
//               run ratios 0.13-0.31 (CV ~24 %)
//   child:      plughost 25 %, bare 23 %; run ratios 0.06-0.17 (CV ~33 %)
// With a child, three busy threads (load generator, the host's event loop, the isolate's
// thread) share two cores, and a plughost request hops between the last two several times,
// so scheduler noise hits it hardest. Caveat: in-process, each round also pays autocannon's
// own per-request cost on the same event loop, which pulls the ratio towards 1 (about 0.2
// in-process against about 0.1 with a child on a quiet machine): read the ratio as a
// regression signal, not as the server-only overhead. `--loadgen child` measures that.
import { startLoadGen, type LoadGen, type LoadGenMode, type LoadResult } from './loadgen.ts';
import { createClient, installBenchPlugin, routePath, startBareKoa, startBenchHost } from './servers.ts';
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
  loadgen?: LoadGenMode;
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
}

export interface ThroughputResult {
  loadgen: LoadGenMode;
  connections: number;
  rounds: number;
  durationSec: number | null;
  amount: number | null;
  path: string;
  plughost: ThroughputSide;
  bare: ThroughputSide;
  /** median(plughost rps) / median(bare rps). */
  ratio: number;
  /** plughost/bare of each A-B pair of rounds, in order. */
  pairRatios: number[];
}

const WORKSPACE = 'bench';
const N = 42;

function side(results: LoadResult[]): ThroughputSide {
  const rps = results.map((r) => r.rps);
  return {
    rps, medianRps: median(rps), cv: coefficientOfVariation(rps),
    latencyP50Ms: results.map((r) => r.latencyP50Ms), latencyP99Ms: results.map((r) => r.latencyP99Ms),
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

  const plughost = await startBenchHost();
  let bare: Awaited<ReturnType<typeof startBareKoa>> | undefined;
  let loadgen: LoadGen | undefined;
  try {
    await installBenchPlugin(plughost.host, WORKSPACE);
    bare = await startBareKoa();
    // Both must answer the same bytes before their speed means anything.
    const client = createClient();
    try {
      await client.check(plughost.url + path, N);
      await client.check(bare.url + path, N);
    } finally {
      client.close();
    }
    loadgen = await startLoadGen(opts.loadgen ?? 'inprocess');

    const targets = [
      { name: 'plughost', url: plughost.url + path },
      { name: 'bare koa', url: bare.url + path },
    ] as const;
    const job = (url: string, warm: boolean) => ({
      url, connections,
      ...(warm
        ? (opts.warmupAmount !== undefined ? { amount: opts.warmupAmount } : { durationSec: warmupSec })
        : (opts.amount !== undefined ? { amount: opts.amount } : { durationSec })),
    });

    for (const t of targets) {
      const r = await loadgen.run(job(t.url, true));
      checkClean(`${t.name} warm-up`, r);
      progress(`throughput: warm-up ${t.name.padEnd(8)} ${Math.round(r.rps)} rps`);
    }
    const results: [LoadResult[], LoadResult[]] = [[], []];
    for (let i = 1; i <= rounds; i++) {
      for (const [k, t] of targets.entries()) {
        const r = await loadgen.run(job(t.url, false));
        checkClean(`${t.name} round ${i}`, r);
        results[k]!.push(r);
        progress(`throughput: round ${i} ${t.name.padEnd(8)} ${Math.round(r.rps)} rps (p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms)`);
      }
    }
    const a = side(results[0]);
    const b = side(results[1]);
    return {
      loadgen: loadgen.mode, connections, rounds,
      durationSec: opts.amount !== undefined ? null : durationSec, amount: opts.amount ?? null,
      path: '/workspaces/:ws/:ns/:route?n=42',
      plughost: a, bare: b,
      ratio: a.medianRps / b.medianRps,
      pairRatios: a.rps.map((rps, i) => rps / b.rps[i]!),
    };
  } finally {
    await loadgen?.close();
    await bare?.close();
    await plughost.close();
  }
}

if (import.meta.main) {
  const result = await measureRouteThroughput({ onProgress: (l) => process.stderr.write(l + '\n') });
  console.log(JSON.stringify(result, null, 2));
}
