// Keeps the scheduler benchmark from rotting: runs its functions (firing on the real clock
// with the bare claim loop beside it, for both schedule kinds; pass cost at two table sizes)
// with tiny sizes, checks that every figure is a sane number and that "none twice" holds:
// each schedule fired exactly once, every occurrence `succeeded` at attempt 1. No timing is
// asserted: speed is the bench's business, not the test suite's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureFiring, type FiringResult } from './scheduler-fire.ts';
import { measurePassCost } from './scheduler-pass.ts';
import { formatScheduler } from './scheduler.ts';

const COUNT = 50;

const finite = (n: unknown, what: string, min = 0) => {
  assert.equal(typeof n, 'number', `${what} is a number`);
  assert.ok(Number.isFinite(n as number) && (n as number) >= min, `${what} = ${n} is a finite number >= ${min}`);
};
const positive = (n: unknown, what: string) => {
  finite(n, what);
  assert.ok((n as number) > 0, `${what} = ${n} is > 0`);
};

function checkFiring(r: FiringResult, kind: string) {
  assert.equal(r.kind, kind);
  assert.equal(r.count, COUNT);
  assert.deepEqual(r.check, {
    occurrences: COUNT, succeeded: COUNT, attemptOne: COUNT, distinctSchedules: COUNT, runs: COUNT, distinctRunKeys: COUNT,
    firedEvents: COUNT, distinctFired: COUNT, noneTwice: true,
  });
  // Nothing runs before it is due; lateness is ordered.
  finite(r.lateness.minMs, 'lateness min');
  assert.ok(r.lateness.minMs <= r.lateness.p50Ms && r.lateness.p50Ms <= r.lateness.p99Ms && r.lateness.p99Ms <= r.lateness.maxMs, JSON.stringify(r.lateness));
  finite(r.firstFireAfterDueMs, 'due -> first fire');
  positive(r.leadMs, 'lead');
  positive(r.insertMs, 'insert ms');
  positive(r.firingPerSec, 'firing per second');
  positive(r.endToEndPerSec, 'end-to-end per second');
  assert.ok(r.endToEndPerSec <= r.firingPerSec, 'end to end includes planning, so it is not faster than the firing phase');
  assert.equal(r.bare.count, COUNT);
  assert.equal(r.bare.succeeded, COUNT, 'the bare loop claimed and finished each row once');
  positive(r.bare.perSec, 'bare per second');
  positive(r.ratio, 'ratio');
  positive(r.ratioEndToEnd, 'end-to-end ratio');
}

test('firing: 50 scheduled webhooks on the real clock all fire once, beside the bare claim loop', async () => {
  checkFiring(await measureFiring({ count: COUNT, kind: 'webhook', leadMs: 800 }), 'webhook');
});

test('firing: 50 one-time plugin schedules (onScheduledEvent) all fire once', async () => {
  checkFiring(await measureFiring({ count: COUNT, kind: 'plugin', leadMs: 800 }), 'plugin');
});

test('pass cost: wake() with nothing due is timed at each table size, both series, with each query and its plan', async () => {
  const r = await measurePassCost({ sizes: [200, 20], pausedSizes: [30, 300], samples: 3, warmup: 1 });
  assert.equal(r.samples, 3);
  assert.deepEqual(r.series.map((x) => [x.name, x.rows.map((row) => row.schedules)]), [['not due', [20, 200]], ['paused', [30, 300]]]);
  for (const x of r.series) {
    for (const row of x.rows) {
      positive(row.medianMs, `${x.name} median at ${row.schedules}`);
      positive(row.p90Ms, `${x.name} p90 at ${row.schedules}`);
      assert.ok(row.minMs <= row.medianMs && row.medianMs <= row.p90Ms);
      assert.deepEqual(Object.keys(row.queries).sort(), ['occurrences.claimBatch', 'occurrences.nextWake', 'schedules.due']);
      for (const [name, ms] of Object.entries(row.queries)) positive(ms, `${x.name} ${name} at ${row.schedules}`);
    }
    positive(x.growth, `${x.name} growth`);
    assert.equal(Object.keys(x.plans).length, 5);
    for (const [name, plan] of Object.entries(x.plans)) assert.ok(plan.length > 0 && plan.every((l) => typeof l === 'string'), `${name}: ${JSON.stringify(plan)}`);
  }

  const table = formatScheduler({ fire: null, pass: r, goals: { noneTwice: null, passGrowth: r.series.map((x) => ({ series: x.name, goal: '<= 2x', value: x.growth, met: x.growth <= 2 })) } });
  assert.match(table, /scheduler pass, nothing due/);
  assert.match(table, /growth 200 vs 20/);
  assert.match(table, /growth 300 vs 30/);
  assert.match(table, /pass cost growth \(paused\)/);
});
