// Scheduler benchmark (SPEC §5 on SQLite): (a) `count` schedules (daily scheduled webhooks
// calling an in-process plugin route by default, or one-time plugin schedules) due at one
// instant ~5 s ahead on the REAL clock all fire, none twice, with lateness p50/p99; (b) the
// cost of one scheduler pass with nothing due at 1k, 10k and 100k stored schedules, which
// must not grow with the total (and the same with paused schedules whose time has passed);
// (c) firing throughput as a ratio to a bare claim loop (claim and finish UPDATEs only) over
// the same occurrences table in the same run. See README.md.
//
//   node --no-node-snapshot test/bench/scheduler.ts [--json] [--count 10000]
//     [--kind webhook|plugin] [--spread 0] [--lead 5000] [--sizes 1000,10000,100000]
//     [--paused 1000,10000,100000|none] [--samples 20] [--only fire|pass]
//
// `measureScheduler()` is the function `run.ts` can call; `formatScheduler()` prints its table.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { measureFiring, type FiringResult } from './scheduler-fire.ts';
import type { BenchKind } from './scheduler-host.ts';
import { measurePassCost, type PassCostResult } from './scheduler-pass.ts';

export const SCHEDULER_GOALS = {
  /** Pass cost at the largest size / at the smallest: about 1 means it does not grow with the total. */
  maxPassGrowth: 2,
};

export interface SchedulerBenchOptions {
  count?: number;
  kind?: BenchKind;
  spreadMs?: number;
  leadMs?: number;
  sizes?: number[];
  pausedSizes?: number[];
  samples?: number;
  only?: 'fire' | 'pass' | undefined;
  onProgress?: (line: string) => void;
}

export interface SchedulerBenchResult {
  fire: FiringResult | null;
  pass: PassCostResult | null;
  goals: {
    noneTwice: { value: boolean; met: boolean } | null;
    /** One entry per pass series (`not due`, `paused`). */
    passGrowth: Array<{ series: string; goal: string; value: number; met: boolean }>;
  };
}

export async function measureScheduler(opts: SchedulerBenchOptions = {}): Promise<SchedulerBenchResult> {
  const fire = opts.only === 'pass' ? null : await measureFiring({
    count: opts.count ?? 10_000, kind: opts.kind ?? 'webhook', spreadMs: opts.spreadMs ?? 0, leadMs: opts.leadMs ?? 5_000,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const pass = opts.only === 'fire' ? null : await measurePassCost({
    sizes: opts.sizes ?? [1_000, 10_000, 100_000], pausedSizes: opts.pausedSizes ?? opts.sizes ?? [1_000, 10_000, 100_000], samples: opts.samples ?? 20,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  return {
    fire, pass,
    goals: {
      noneTwice: fire ? { value: fire.check.noneTwice, met: fire.check.noneTwice } : null,
      passGrowth: (pass?.series ?? []).map((x) => ({ series: x.name, goal: `<= ${SCHEDULER_GOALS.maxPassGrowth}x`, value: x.growth, met: x.growth <= SCHEDULER_GOALS.maxPassGrowth })),
    },
  };
}

export function formatScheduler(r: SchedulerBenchResult): string {
  const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
  const f2 = (n: number) => n.toFixed(2);
  const f3 = (n: number) => n.toFixed(3);
  const out: string[] = [];
  if (r.fire) {
    const f = r.fire;
    out.push(`scheduler firing: ${f0(f.count)} ${f.kind === 'webhook' ? 'scheduled webhooks (in-process plugin route)' : 'one-time plugin schedules (onScheduledEvent)'}, `
      + `${f.spreadMs ? `due over ${f0(f.spreadMs)} ms` : 'all due at one instant'}, SQLite, real clock, concurrency ${f.concurrency}`);
    out.push(`  inserted in ${f0(f.insertMs)} ms (one transaction); due ${f0(f.leadMs)} ms after the insert`);
    out.push(`  ${'lateness (run start - due)'.padEnd(34)}p50 ${f0(f.lateness.p50Ms)} ms   p99 ${f0(f.lateness.p99Ms)} ms   max ${f0(f.lateness.maxMs)} ms`);
    out.push(`  ${'due -> first fire (planning)'.padEnd(34)}${f0(f.firstFireAfterDueMs)} ms`);
    out.push(`  ${'firing phase (first fire -> last)'.padEnd(34)}${f0(f.firingPhaseMs)} ms = ${f0(f.firingPerSec)} /s   (end to end ${f0(f.endToEndPerSec)} /s)`);
    out.push(`  ${'bare claim loop (claim+finish)'.padEnd(34)}${f0(f.bare.ms)} ms = ${f0(f.bare.perSec)} /s`);
    out.push(`  ${'ratio scheduler / bare'.padEnd(34)}${f2(f.ratio)}   (end to end ${f2(f.ratioEndToEnd)})`);
    const c = f.check;
    out.push(`  none twice: ${c.noneTwice ? 'yes' : 'NO'} — ${f0(c.occurrences)} occurrences (${f0(c.distinctSchedules)} schedules), ${f0(c.succeeded)} succeeded, `
      + `${f0(c.attemptOne)} at attempt 1, ${f0(c.runs)} runs (${f0(c.distinctRunKeys)} keys), ${f0(c.firedEvents)} fired (${f0(c.distinctFired)} occurrences)`);
  }
  for (const x of r.pass?.series ?? []) {
    if (out.length) out.push('');
    out.push(x.name === 'not due'
      ? `scheduler pass, nothing due (host.scheduler.wake(), ${r.pass!.samples} samples each), by stored schedules (active, due later)`
      : `scheduler pass, nothing due, by stored PAUSED schedules whose next_run_at has passed (inactive webhooks)`);
    out.push(`  ${'schedules'.padEnd(11)}${'median ms'.padStart(10)}${'p90 ms'.padStart(9)}${'min ms'.padStart(9)}   median ms per query: due / claimBatch / nextWake`);
    for (const row of x.rows) {
      const q = row.queries;
      out.push(`  ${f0(row.schedules).padEnd(11)}${f3(row.medianMs).padStart(10)}${f3(row.p90Ms).padStart(9)}${f3(row.minMs).padStart(9)}   `
        + `${f3(q['schedules.due'])} / ${f3(q['occurrences.claimBatch'])} / ${f3(q['occurrences.nextWake'])}`);
    }
    out.push(`  growth ${f0(x.rows.at(-1)!.schedules)} vs ${f0(x.rows[0]!.schedules)}: ${f2(x.growth)}x`);
  }
  out.push('', 'goals');
  const g = r.goals;
  if (g.noneTwice) out.push(`  every schedule fired exactly once: ${g.noneTwice.met ? 'met' : 'NOT met'}`);
  for (const p of g.passGrowth) out.push(`  pass cost growth (${p.series}) ${p.goal}: ${f2(p.value)}x — ${p.met ? 'met' : 'NOT met'}`);
  return out.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      count: { type: 'string', default: '10000' },
      kind: { type: 'string', default: 'webhook' },
      spread: { type: 'string', default: '0' },
      lead: { type: 'string', default: '5000' },
      sizes: { type: 'string', default: '1000,10000,100000' },
      paused: { type: 'string' },
      samples: { type: 'string', default: '20' },
      only: { type: 'string' },
    },
  });
  const int = (name: string, raw: string | undefined, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${raw}`);
    return n;
  };
  if (values.kind !== 'webhook' && values.kind !== 'plugin') throw new Error('--kind must be webhook or plugin');
  if (values.only !== undefined && values.only !== 'fire' && values.only !== 'pass') throw new Error('--only must be fire or pass');
  const result = await measureScheduler({
    count: int('count', values.count, 1), kind: values.kind, spreadMs: int('spread', values.spread, 0), leadMs: int('lead', values.lead, 500),
    sizes: values.sizes.split(',').map((s) => int('sizes', s.trim(), 1)),
    pausedSizes: values.paused === undefined ? values.sizes.split(',').map((s) => int('sizes', s.trim(), 1))
      : values.paused === '' || values.paused === 'none' ? [] : values.paused.split(',').map((s) => int('paused', s.trim(), 1)),
    samples: int('samples', values.samples, 1),
    only: values.only as 'fire' | 'pass' | undefined, onProgress: (line) => process.stderr.write(line + '\n'),
  });
  const environment = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}` };
  if (values.json) console.log(JSON.stringify({ environment, ...result }, null, 2));
  else console.log(`plughost scheduler bench — node ${environment.node}, ${environment.cpus} cpus (${environment.cpuModel})\n\n${formatScheduler(result)}`);
}
