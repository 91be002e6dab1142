// `npm run bench`: runs the route-throughput, cold-start and scheduler benchmarks (the hostile
// one with `--only hostile`, the scheduler against graphile-worker and pg-boss on PostgreSQL with
// `--only scheduler-peers`) and
// prints a short table (or, with --json, one JSON object on stdout). Progress goes to stderr.
// Goals are reported, never enforced: the bench exits 0 whatever the numbers (see README.md).
//
//   node --no-node-snapshot test/bench/run.ts [--json] [--only throughput|cold|scheduler|hostile|scheduler-peers]
//     [--rounds 5] [--duration 3] [--warmup 2] [--connections 32] [--loadgen child|inprocess]
//     [--baseline <another plughost checkout>]
//     [--installs 200] [--isolate-memory-mb 2048] [--attacks timers,logs,ops,outbound,bodies,memory,storage]
//     [--jobs 10000] (scheduler-peers; its --rounds defaults to 3)
//
// --rounds, --warmup and --connections default to 3, 1 and 4 for the hostile bench (shorter
// rounds, a light neighbour load: see README.md); given, they apply to every bench.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { measureColdStart, type ColdStartResult } from './cold-start.ts';
import type { LoadGenMode } from './loadgen.ts';
import { measureRouteThroughput, type ThroughputResult } from './route-throughput.ts';
import { formatHostile, measureHostile, type HostileResult } from './hostile.ts';
import { formatScheduler, measureScheduler, type SchedulerBenchResult } from './scheduler.ts';
import { formatSchedulerPeers, measureSchedulerPeers, type PeersResult } from './scheduler-peers.ts';

export const GOALS = { minThroughputRatio: 0.5, maxColdP50Ms: 5, maxColdP99Ms: 10, maxAfterEvictionP50Ms: 5, maxRssPerInstallationMb: 1 };

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    loadgen: { type: 'string', default: 'child' },
    baseline: { type: 'string' },
    installs: { type: 'string', default: '200' },
    'isolate-memory-mb': { type: 'string', default: '2048' },
    attacks: { type: 'string' },
    jobs: { type: 'string', default: '10000' },
  },
});

const positive = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${raw}`);
  return n;
};
if (values.loadgen !== 'child' && values.loadgen !== 'inprocess') throw new Error('--loadgen must be child or inprocess');
if (values.only !== undefined && !['throughput', 'cold', 'scheduler', 'hostile', 'scheduler-peers'].includes(values.only)) throw new Error('--only must be throughput, cold, scheduler, hostile or scheduler-peers');

const progress = (line: string) => process.stderr.write(line + '\n');
const environment = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}` };

let throughput: ThroughputResult | undefined;
let cold: ColdStartResult | undefined;
if (values.only === undefined || values.only === 'throughput') {
  throughput = await measureRouteThroughput({
    rounds: Math.round(positive('rounds', values.rounds ?? '5')), durationSec: positive('duration', values.duration),
    warmupSec: positive('warmup', values.warmup ?? '2'), connections: Math.round(positive('connections', values.connections ?? '32')),
    loadgen: values.loadgen as LoadGenMode, onProgress: progress,
    ...(values.baseline ? { baselineRoot: values.baseline } : {}),
  });
}
if (values.only === undefined || values.only === 'cold') {
  cold = await measureColdStart({ installs: Math.round(positive('installs', values.installs)), onProgress: progress });
}

let scheduler: SchedulerBenchResult | undefined;
if (values.only === undefined || values.only === 'scheduler') scheduler = await measureScheduler({ onProgress: progress });

let hostile: HostileResult | undefined;
// The hostile bench takes minutes: it runs when asked for (`--only hostile`).
if (values.only === 'hostile') {
  hostile = await measureHostile({
    rounds: Math.round(positive('rounds', values.rounds ?? '3')), durationSec: positive('duration', values.duration),
    warmupSec: positive('warmup', values.warmup ?? '1'), connections: Math.round(positive('connections', values.connections ?? '4')),
    isolateMemoryMb: Math.round(positive('isolate-memory-mb', values['isolate-memory-mb'])),
    ...(values.attacks ? { attacks: values.attacks.split(',').map((s) => s.trim()) } : {}),
    onProgress: progress,
  });
}

let peers: PeersResult | undefined;
// Needs PostgreSQL (PLUGHOST_TEST_PG_URL, default the local server): runs when asked for.
if (values.only === 'scheduler-peers') {
  peers = await measureSchedulerPeers({ jobs: Math.round(positive('jobs', values.jobs)), rounds: Math.round(positive('rounds', values.rounds ?? '3')), onProgress: progress });
}

const goals = {
  throughputRatio: throughput ? { goal: `>= ${GOALS.minThroughputRatio}`, value: throughput.ratio, met: throughput.ratio >= GOALS.minThroughputRatio } : null,
  coldP50Ms: cold ? { goal: `< ${GOALS.maxColdP50Ms} ms`, value: cold.cold.p50Ms, met: cold.cold.p50Ms < GOALS.maxColdP50Ms } : null,
  coldP99Ms: cold ? { goal: `< ${GOALS.maxColdP99Ms} ms`, value: cold.cold.p99Ms, met: cold.cold.p99Ms < GOALS.maxColdP99Ms } : null,
  afterEvictionP50Ms: cold?.afterEviction ? { goal: `< ${GOALS.maxAfterEvictionP50Ms} ms`, value: cold.afterEviction.p50Ms, met: cold.afterEviction.p50Ms < GOALS.maxAfterEvictionP50Ms } : null,
  rssPerInstallationMb: cold ? { goal: `<= ${GOALS.maxRssPerInstallationMb} MiB`, value: cold.rssPerInstallationMb, met: cold.rssPerInstallationMb <= GOALS.maxRssPerInstallationMb } : null,
  hostile: hostile ? { goal: `neighbour p99 and mean under attack <= ${hostile.goals.maxP99Ratio}x alone, RSS <= ${hostile.isolateMemoryMb} MiB`, attacksMet: hostile.goals.met, attacks: hostile.goals.of, met: hostile.goals.met === hostile.goals.of } : null,
};

if (values.json) {
  const coldOut = cold ? (({ samples: _samples, ...rest }) => rest)(cold) : null;
  console.log(JSON.stringify({ environment, throughput: throughput ?? null, coldStart: coldOut, scheduler: scheduler ?? null, hostile: hostile ?? null, ...(peers ? { schedulerPeers: peers } : {}), goals }, null, 2));
} else {
  const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
  const f2 = (n: number) => n.toFixed(2);
  const out: string[] = [];
  out.push(`plughost bench — node ${environment.node}, ${environment.cpus} cpus (${environment.cpuModel})`);
  if (throughput) {
    const t = throughput;
    out.push('', `route throughput: GET ${t.path}, each server in its own process, ${t.connections} connections, ${t.rounds} x ${t.durationSec ?? '-'} s rounds, load generator: ${t.loadgen}`);
    out.push(`  ${'server'.padEnd(19)}${'median rps'.padStart(12)}${'x koa'.padStart(8)}${'CPU µs/req'.padStart(12)}${'x koa'.padStart(8)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'cv'.padStart(8)}`);
    for (const [name, side] of Object.entries(t.servers)) {
      out.push(`  ${name.padEnd(19)}${f0(side.medianRps).padStart(12)}${f2(side.rpsRatio).padStart(8)}${f0(side.medianCpuUs).padStart(12)}${f2(side.cpuRatio).padStart(8)}`
        + `${String(Math.max(...side.latencyP50Ms)).padStart(8)}${String(Math.max(...side.latencyP99Ms)).padStart(8)}${(f2(side.cv * 100) + '%').padStart(8)}`);
    }
    if (t.baselineRatio !== null) out.push(`  plughost / plughost@baseline median rps: ${f2(t.baselineRatio)}`);
  }
  if (cold) {
    const c = cold;
    out.push('', `cold start: ${c.installs} installs, each into a new workspace`);
    out.push(`  ${''.padEnd(18)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`);
    for (const [name, d] of [['install call', c.install], ['cold request', c.cold], ['warm request', c.warm], ['after eviction', c.afterEviction]] as const) {
      if (d) out.push(`  ${name.padEnd(18)}${f2(d.p50Ms).padStart(10)}${f2(d.p99Ms).padStart(10)}`);
    }
    out.push(`  ${'cold / warm'.padEnd(18)}${(f2(c.ratioP50) + 'x').padStart(10)}${(f2(c.ratioP99) + 'x').padStart(10)}`);
    out.push(`  RSS per installation: ${f2(c.rssPerInstallationMb)} MiB (${c.installs} installs, at most ${c.maxIsolates} warm, no forced GC)`);
  }
  if (!peers) out.push('', 'goals'); // the scheduler-peers table prints its own
  if (goals.throughputRatio) out.push(`  throughput ratio plughost/koa ${goals.throughputRatio.goal}: ${f2(goals.throughputRatio.value)} — ${goals.throughputRatio.met ? 'met' : 'NOT met'}`);
  if (goals.coldP50Ms) out.push(`  cold request p50 ${goals.coldP50Ms.goal}: ${f2(goals.coldP50Ms.value)} ms — ${goals.coldP50Ms.met ? 'met' : 'NOT met'}`);
  if (goals.coldP99Ms) out.push(`  cold request p99 ${goals.coldP99Ms.goal}: ${f2(goals.coldP99Ms.value)} ms — ${goals.coldP99Ms.met ? 'met' : 'NOT met'}`);
  if (goals.afterEvictionP50Ms) out.push(`  request after an eviction p50 ${goals.afterEvictionP50Ms.goal}: ${f2(goals.afterEvictionP50Ms.value)} ms — ${goals.afterEvictionP50Ms.met ? 'met' : 'NOT met'}`);
  if (goals.rssPerInstallationMb) out.push(`  RSS per installation ${goals.rssPerInstallationMb.goal}: ${f2(goals.rssPerInstallationMb.value)} MiB — ${goals.rssPerInstallationMb.met ? 'met' : 'NOT met'}`);
  if (goals.hostile) out.push(`  hostile: ${goals.hostile.goal}: met for ${goals.hostile.attacksMet} of ${goals.hostile.attacks} attacks — ${goals.hostile.met ? 'met' : 'NOT met'}`);
  if (scheduler) out.push('', formatScheduler(scheduler));
  if (hostile) out.push('', formatHostile(hostile));
  if (peers) out.push('', formatSchedulerPeers(peers));
  console.log(out.join('\n'));
}
