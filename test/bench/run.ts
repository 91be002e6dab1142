// `npm run bench`: runs the route-throughput and cold-start benchmarks and prints a short
// table (or, with --json, one JSON object on stdout). Progress goes to stderr. Goals are
// reported, never enforced: the bench exits 0 whatever the numbers (see README.md).
//
//   node --no-node-snapshot test/bench/run.ts [--json] [--only throughput|cold|scheduler]
//     [--rounds 5] [--duration 3] [--warmup 2] [--connections 32] [--loadgen inprocess|child]
//     [--installs 200]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { measureColdStart, type ColdStartResult } from './cold-start.ts';
import type { LoadGenMode } from './loadgen.ts';
import { measureRouteThroughput, type ThroughputResult } from './route-throughput.ts';
import { formatScheduler, measureScheduler, type SchedulerBenchResult } from './scheduler.ts';

export const GOALS = { minThroughputRatio: 0.5, maxColdP50Ms: 5 };

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    loadgen: { type: 'string', default: 'inprocess' },
    installs: { type: 'string', default: '200' },
  },
});

const positive = (name: string, raw: string | undefined): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${raw}`);
  return n;
};
if (values.loadgen !== 'child' && values.loadgen !== 'inprocess') throw new Error('--loadgen must be child or inprocess');
if (values.only !== undefined && !['throughput', 'cold', 'scheduler'].includes(values.only)) throw new Error('--only must be throughput, cold or scheduler');

const progress = (line: string) => process.stderr.write(line + '\n');
const environment = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}` };

let throughput: ThroughputResult | undefined;
let cold: ColdStartResult | undefined;
if (values.only === undefined || values.only === 'throughput') {
  throughput = await measureRouteThroughput({
    rounds: Math.round(positive('rounds', values.rounds)), durationSec: positive('duration', values.duration),
    warmupSec: positive('warmup', values.warmup), connections: Math.round(positive('connections', values.connections)),
    loadgen: values.loadgen as LoadGenMode, onProgress: progress,
  });
}
if (values.only === undefined || values.only === 'cold') {
  cold = await measureColdStart({ installs: Math.round(positive('installs', values.installs)), onProgress: progress });
}

let scheduler: SchedulerBenchResult | undefined;
if (values.only === undefined || values.only === 'scheduler') scheduler = await measureScheduler({ onProgress: progress });

const goals = {
  throughputRatio: throughput ? { goal: `>= ${GOALS.minThroughputRatio}`, value: throughput.ratio, met: throughput.ratio >= GOALS.minThroughputRatio } : null,
  coldP50Ms: cold ? { goal: `< ${GOALS.maxColdP50Ms} ms`, value: cold.cold.p50Ms, met: cold.cold.p50Ms < GOALS.maxColdP50Ms } : null,
};

if (values.json) {
  const coldOut = cold ? (({ samples: _samples, ...rest }) => rest)(cold) : null;
  console.log(JSON.stringify({ environment, throughput: throughput ?? null, coldStart: coldOut, scheduler: scheduler ?? null, goals }, null, 2));
} else {
  const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
  const f2 = (n: number) => n.toFixed(2);
  const out: string[] = [];
  out.push(`plughost bench — node ${environment.node}, ${environment.cpus} cpus (${environment.cpuModel})`);
  if (throughput) {
    const t = throughput;
    out.push('', `route throughput: GET ${t.path}, ${t.connections} connections, ${t.durationSec ?? '-'} s rounds, load generator: ${t.loadgen}`);
    out.push(`  ${'round'.padEnd(8)}${'plughost rps'.padStart(14)}${'bare koa rps'.padStart(14)}${'ratio'.padStart(8)}`);
    t.plughost.rps.forEach((rps, i) => {
      out.push(`  ${String(i + 1).padEnd(8)}${f0(rps).padStart(14)}${f0(t.bare.rps[i]!).padStart(14)}${f2(t.pairRatios[i]!).padStart(8)}`);
    });
    out.push(`  ${'median'.padEnd(8)}${f0(t.plughost.medianRps).padStart(14)}${f0(t.bare.medianRps).padStart(14)}${f2(t.ratio).padStart(8)}`);
    out.push(`  ${'cv'.padEnd(8)}${(f2(t.plughost.cv * 100) + '%').padStart(14)}${(f2(t.bare.cv * 100) + '%').padStart(14)}`);
  }
  if (cold) {
    const c = cold;
    out.push('', `cold start: ${c.installs} installs, each into a new workspace`);
    out.push(`  ${''.padEnd(18)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`);
    for (const [name, d] of [['install call', c.install], ['cold request', c.cold], ['warm request', c.warm]] as const) {
      out.push(`  ${name.padEnd(18)}${f2(d.p50Ms).padStart(10)}${f2(d.p99Ms).padStart(10)}`);
    }
    out.push(`  ${'cold / warm'.padEnd(18)}${(f2(c.ratioP50) + 'x').padStart(10)}${(f2(c.ratioP99) + 'x').padStart(10)}`);
  }
  out.push('', 'goals');
  if (goals.throughputRatio) out.push(`  throughput ratio plughost/bare ${goals.throughputRatio.goal}: ${f2(goals.throughputRatio.value)} — ${goals.throughputRatio.met ? 'met' : 'NOT met'}`);
  if (goals.coldP50Ms) out.push(`  cold request p50 ${goals.coldP50Ms.goal}: ${f2(goals.coldP50Ms.value)} ms — ${goals.coldP50Ms.met ? 'met' : 'NOT met'}`);
  if (scheduler) out.push('', formatScheduler(scheduler));
  console.log(out.join('\n'));
}
