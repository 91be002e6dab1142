// Cold start: how long the first request to a plugin route takes right after the install
// call returns, against a warm request to the same route. The bench plugin is published
// once; then, N times, a new workspace is created, the plugin installed into it through the
// host's service API (`installations.install`, which warms the isolate before returning),
// the first request timed (cold), then one more (warm). The install call is timed on its own.
// Requests go over one kept-alive loopback socket from this process, so connection set-up is
// in neither number. A few untimed iterations come first so JIT warm-up is not counted.
// Then, once more installations exist than `sandbox.maxIsolates` keeps warm, the timed ones
// the LRU evicted (the oldest used) are each asked once again: the request after an eviction.
// RSS per installation is this process's resident memory growth over the timed installs,
// divided by them, with at most maxIsolates of them warm (no forced GC: an upper bound).
import { performance } from 'node:perf_hooks';
import { BENCH_PLUGIN, createClient, routePath, startBenchHost } from './servers.ts';
import { median, percentile } from './stats.ts';

export interface ColdStartOptions {
  /** Timed install + cold + warm iterations. */
  installs?: number;
  /** Untimed iterations first (JIT, caches, the spare isolate pool). */
  warmupInstalls?: number;
  onProgress?: (line: string) => void;
}

export interface Distribution {
  p50Ms: number;
  p99Ms: number;
  medianMs: number;
  maxMs: number;
}

export interface ColdStartResult {
  installs: number;
  install: Distribution;
  cold: Distribution;
  warm: Distribution;
  /** The first request to an installation whose isolate the LRU evicted; null when none was evicted (fewer installs than maxIsolates). */
  afterEviction: Distribution | null;
  /** Resident memory growth per timed installation, MiB (most of them idle, at most maxIsolates warm). */
  rssPerInstallationMb: number;
  maxIsolates: number;
  /** cold p50 / warm p50 and cold p99 / warm p99. */
  ratioP50: number;
  ratioP99: number;
  samples: { installMs: number[]; coldMs: number[]; warmMs: number[]; afterEvictionMs: number[] };
}

function distribution(values: number[]): Distribution {
  return { p50Ms: percentile(values, 50), p99Ms: percentile(values, 99), medianMs: median(values), maxMs: Math.max(...values) };
}

export async function measureColdStart(opts: ColdStartOptions = {}): Promise<ColdStartResult> {
  const installs = Math.max(1, opts.installs ?? 200);
  const warmups = Math.max(0, opts.warmupInstalls ?? 10);
  const progress = opts.onProgress ?? (() => undefined);
  const bench = await startBenchHost();
  const client = createClient();
  const installMs: number[] = [];
  const coldMs: number[] = [];
  const warmMs: number[] = [];
  const afterEvictionMs: number[] = [];
  const maxIsolates = bench.host.options.sandbox.maxIsolates;
  let rssBefore = 0;
  let rssAfter = 0;
  try {
    for (let i = 0; i < warmups + installs; i++) {
      if (i === warmups) rssBefore = process.memoryUsage().rss;
      const ws = `cold-${i}`;
      const url = bench.url + routePath(ws, i);
      await bench.host.workspaces.create({ id: ws, name: ws });
      const t0 = performance.now();
      await bench.host.installations.install(ws, { plugin: BENCH_PLUGIN });
      const t1 = performance.now();
      await client.check(url, i);
      const t2 = performance.now();
      await client.check(url, i);
      const t3 = performance.now();
      if (i < warmups) continue;
      installMs.push(t1 - t0);
      coldMs.push(t2 - t1);
      warmMs.push(t3 - t2);
      if ((i - warmups + 1) % 50 === 0) progress(`cold start: ${i - warmups + 1}/${installs} installs`);
    }
    rssAfter = process.memoryUsage().rss;
    // The most recently used maxIsolates stay warm: every timed one older than those was evicted.
    const evicted = warmups + installs - maxIsolates;
    const evictionsBefore = bench.host.sandbox.stats().evictions;
    for (let i = warmups; i < evicted; i++) {
      const t0 = performance.now();
      await client.check(bench.url + routePath(`cold-${i}`, i), i);
      afterEvictionMs.push(performance.now() - t0);
    }
    if (afterEvictionMs.length > 0 && bench.host.sandbox.stats().evictions <= evictionsBefore) {
      throw new Error('asking the evicted installations again evicted nothing: they were not evicted');
    }
  } finally {
    client.close();
    await bench.close();
  }
  const cold = distribution(coldMs);
  const warm = distribution(warmMs);
  return {
    installs, install: distribution(installMs), cold, warm,
    afterEviction: afterEvictionMs.length > 0 ? distribution(afterEvictionMs) : null,
    rssPerInstallationMb: (rssAfter - rssBefore) / installs / 1024 / 1024, maxIsolates,
    ratioP50: cold.p50Ms / warm.p50Ms, ratioP99: cold.p99Ms / warm.p99Ms,
    samples: { installMs, coldMs, warmMs, afterEvictionMs },
  };
}

if (import.meta.main) {
  const { samples, ...result } = await measureColdStart({ onProgress: (l) => process.stderr.write(l + '\n') });
  console.log(JSON.stringify(result, null, 2));
}
