// Keeps the cluster benchmark (cluster.ts) from rotting: runs it with one, two and three host
// processes on PostgreSQL with 40 schedules each, and checks that every figure is a sane
// number, that "none twice" holds in every run (each occurrence succeeded once at attempt 1,
// one successful run per idempotency key, no occurrence fired by two processes), that the
// ratio of one process to itself is 1, and that the table prints. No timing is asserted.
// Needs PostgreSQL in both passes of `npm test` (test/cluster/fixtures/pg.ts); fails without it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCluster, measureClusterFiring } from './cluster.ts';

const COUNT = 40;

test('the cluster bench runs with tiny sizes and every run fires each occurrence exactly once', async () => {
  const r = await measureClusterFiring({ count: COUNT, nodeCounts: [1, 2, 3], rounds: 1, timeoutMs: 60_000 });
  assert.equal(r.count, COUNT);
  assert.deepEqual(r.runs.map((x) => x.nodes), [1, 2, 3]);
  for (const x of r.runs) {
    assert.equal(x.count, COUNT);
    assert.deepEqual(x.check, {
      occurrences: COUNT, succeededAttemptOne: COUNT, runs: COUNT, distinctRunKeys: COUNT, firedEvents: COUNT, distinctFired: COUNT, noneTwice: true,
    }, `${x.nodes} process(es)`);
    assert.equal(x.perNode.length, x.nodes);
    assert.equal(x.perNode.reduce((a, b) => a + b, 0), COUNT);
    for (const [what, n] of [['insertMs', x.insertMs], ['firstFireMs', x.firstFireMs], ['wallMs', x.wallMs], ['firingsPerSec', x.firingsPerSec]] as const) {
      assert.ok(Number.isFinite(n) && n > 0, `${what} = ${n} is a positive number`);
    }
    assert.ok(x.firstFireMs <= x.wallMs, 'the first fire comes before the last finish');
    // Claims are batches: fewer claim statements than occurrences; nothing was refused for a lease.
    assert.ok(x.ledger.claims > 0 && x.ledger.claims < COUNT, `${x.ledger.claims} claim statements for ${COUNT} occurrences`);
    assert.equal(x.ledger.lostLeases, 0);
    assert.equal(x.ledger.collisionsPerOccurrence, x.ledger.planConflicts / COUNT);
    if (x.nodes === 1) assert.equal(x.ledger.planConflicts, 0, 'one process has nobody to collide with');
  }
  assert.deepEqual(r.summary.map((s) => s.nodes), [1, 2, 3]);
  assert.equal(r.summary[0]!.ratio, 1);
  for (const s of r.summary) assert.ok(Number.isFinite(s.ratio) && s.ratio > 0 && s.medianPerSec > 0);
  const table = formatCluster(r);
  assert.match(table, /processes\s+firings\/s\s+ratio to 1/);
  assert.equal(table.split('\n').filter((l) => /^\s+[123]\s+[\d,]+\s+\d+\.\d\d\s/.test(l)).length, 3);
});
