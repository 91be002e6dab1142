// The cost of one scheduler pass with nothing due, as the number of stored schedules grows
// (1k, 10k, 100k by default): a host on a virtual clock that never moves (so no timer starts
// a pass behind the bench's back), schedules inserted in steps, and at each size
// `host.scheduler.wake()` timed `samples` times after a few untimed warm-up passes. Each of
// the store queries a pass makes is timed on its own too, and SQLite's plan for each is
// reported, so a pass that grows with the table shows where.
//
// Two series, each on its own fresh host:
// - `not due`: active scheduled webhooks, first due an hour to days ahead (the brief's case);
// - `paused`: scheduled webhooks paused (`isActive: false`) whose `next_run_at` has passed,
//   as a paused webhook keeps it (runtime/schedule/webhooks.ts `change`), like the hook and
//   plugin schedules of a deactivated installation (runtime/schedule/hooks.ts).
import { performance } from 'node:perf_hooks';
import { createVirtualClock } from '../../runtime/clock.ts';
import { buildSchedules, insertSchedules, startSchedBenchHost } from './scheduler-host.ts';
import { median, percentile } from './stats.ts';

export interface PassCostOptions {
  sizes?: number[];
  /** Sizes of the `paused` series; [] skips it. Defaults to `sizes`. */
  pausedSizes?: number[];
  samples?: number;
  warmup?: number;
  onProgress?: (line: string) => void;
}

export interface PassCostRow {
  schedules: number;
  /** wake() with nothing due: median, p90 and min of the samples, in ms. */
  medianMs: number;
  p90Ms: number;
  minMs: number;
  /** Median time of each store query a pass makes, run on its own, in ms. */
  queries: Record<PassQuery, number>;
}

export type PassQuery = 'schedules.due' | 'occurrences.claimBatch' | 'occurrences.nextWake';

export type PassSeriesName = 'not due' | 'paused';

export interface PassSeries {
  name: PassSeriesName;
  rows: PassCostRow[];
  /** median at the largest size / median at the smallest. */
  growth: number;
  /** SQLite's EXPLAIN QUERY PLAN of the same queries (at the largest size). */
  plans: Record<string, string[]>;
}

export interface PassCostResult {
  samples: number;
  series: PassSeries[];
}

const time = async (fn: () => Promise<unknown>, samples: number, warmup: number): Promise<number[]> => {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
};

export async function measurePassCost(opts: PassCostOptions = {}): Promise<PassCostResult> {
  const sizes = opts.sizes ?? [1_000, 10_000, 100_000];
  const series: PassSeries[] = [await measureSeries('not due', sizes, opts)];
  const paused = opts.pausedSizes ?? sizes;
  if (paused.length > 0) series.push(await measureSeries('paused', paused, opts));
  return { samples: opts.samples ?? 20, series };
}

async function measureSeries(name: PassSeriesName, unsorted: number[], opts: PassCostOptions): Promise<PassSeries> {
  const sizes = [...unsorted].sort((a, b) => a - b);
  const samples = opts.samples ?? 20;
  const warmup = opts.warmup ?? 5;
  const progress = opts.onProgress ?? (() => {});
  const start = Date.parse('2030-01-01T00:00:00Z');
  const clock = createVirtualClock(start);
  const b = await startSchedBenchHost({ clock });
  const { host } = b;
  try {
    await host.start();
    const rows: PassCostRow[] = [];
    let stored = 0;
    for (const size of sizes) {
      const add = size - stored;
      // Not due: first fire times one second apart from an hour ahead on. Paused: one second
      // apart, ending a day before now (their time has passed while they were paused).
      const first = name === 'not due' ? start + 3_600_000 + stored * 1000 : start - 86_400_000 - sizes.at(-1)! * 1000 + stored * 1000;
      const built = buildSchedules(b, 'webhook', add, (i) => first + i * 1000, `pass${size}`);
      const t0 = performance.now();
      await insertSchedules(host, name === 'paused' ? built.map((s) => ({ ...s, active: false })) : built);
      stored = size;
      progress(`scheduler pass (${name}): ${size} schedules stored (${add} inserted in ${Math.round(performance.now() - t0)} ms)`);
      const now = clock.now();
      const wake = await time(() => host.scheduler.wake(), samples, warmup);
      const q = host.store;
      const queries: Record<PassQuery, number> = {
        'schedules.due': median(await time(() => q.schedules.due(now, host.options.schedules.batch), samples, warmup)),
        // Nothing is claimable in either series, so the claim statement changes nothing.
        'occurrences.claimBatch': median(await time(() => q.occurrences.claimBatch(now, host.scheduler.nodeId, now + 1, host.options.schedules.concurrency), samples, warmup)),
        'occurrences.nextWake': median(await time(() => q.occurrences.nextWake(), samples, warmup)),
      };
      rows.push({ schedules: size, medianMs: median(wake), p90Ms: percentile(wake, 90), minMs: Math.min(...wake), queries });
      progress(`scheduler pass (${name}): ${size} schedules: wake() median ${median(wake).toFixed(3)} ms`);
    }
    // Nothing may have fired: the `not due` ones are not due, the paused ones are inactive.
    const fired = await host.store.db('occurrences').count({ n: '*' }).first();
    if (Number(fired?.n ?? 0) !== 0) throw new Error(`${fired?.n} occurrences were planned in the ${name} series; nothing should have been due`);
    return { name, rows, growth: rows.at(-1)!.medianMs / rows[0]!.medianMs, plans: await queryPlans(host.store.db, clock.now(), host.options.schedules.batch) };
  } finally {
    await b.close();
  }
}

/** EXPLAIN QUERY PLAN of the queries a pass makes, written as runtime/store/*.ts writes them. */
async function queryPlans(db: import('knex').Knex, now: number, batch: number): Promise<Record<string, string[]>> {
  const queries: Record<string, import('knex').Knex.QueryBuilder> = {
    'schedules.due': db('schedules').where('next_run_at', '<=', now).andWhere({ active: true }).orderBy('next_run_at').limit(batch),
    'occurrences.claimBatch (candidates)': db('occurrences').select('id')
      .where((w) => w.where({ status: 'pending' }).andWhere('available_at', '<=', now))
      .orWhere((w) => w.where({ status: 'running' }).andWhere('lease_until', '<=', now)).orderBy(['available_at', 'id']).limit(batch),
    'occurrences.nextWake (schedules)': db('schedules').where({ active: true }).whereNotNull('next_run_at').min({ t: 'next_run_at' }).first(),
    'occurrences.nextWake (pending)': db('occurrences').where({ status: 'pending' }).min({ t: 'available_at' }).first(),
    'occurrences.nextWake (running)': db('occurrences').where({ status: 'running' }).min({ t: 'lease_until' }).first(),
  };
  const out: Record<string, string[]> = {};
  for (const [name, qb] of Object.entries(queries)) {
    const { sql, bindings } = qb.toSQL();
    try {
      const plan: Array<{ detail: string }> = await db.raw(`EXPLAIN QUERY PLAN ${sql}`, bindings as never);
      out[name] = plan.map((p) => p.detail);
    } catch (err) {
      out[name] = [`(no plan: ${(err as Error).message})`];
    }
  }
  return out;
}
