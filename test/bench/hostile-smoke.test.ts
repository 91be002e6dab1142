// Keeps the hostile bench from rotting: runs `measureHostile` (what `npm run bench -- --only
// hostile` runs) with one round of a few neighbour requests and every attack at a tiny scale,
// each on its own `plughost serve` process, and checks that there is a row per attack with
// finite numbers and that the table prints. No timing is asserted: speed is the bench's
// business, not the test suite's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTACKS } from './hostile-attacks.ts';
import { formatHostile, HOSTILE_GOALS, measureHostile } from './hostile.ts';

const BUDGET = 2048;

test('the hostile bench measures every attack end to end and prints a row for each', async () => {
  const r = await measureHostile({ rounds: 1, amount: 30, warmupAmount: 10, connections: 2, scale: 0.02, isolateMemoryMb: BUDGET });
  assert.equal(r.rounds, 1);
  assert.equal(r.amount, 30);
  assert.equal(r.isolateMemoryMb, BUDGET);
  assert.deepEqual(r.rows.map((row) => row.attack), ATTACKS.map((a) => a.name));
  assert.deepEqual(r.attacks.map((a) => a.key), ATTACKS.map((a) => a.key));
  for (const a of r.attacks) {
    assert.equal(a.error, null, `${a.name}: ${a.error}`);
    assert.ok(a.attack.sent > 0, `${a.name}: the attacker sent requests`);
    for (const side of [a.alone!, a.under!]) {
      assert.equal(side.rounds.length, 1);
      assert.ok(side.rounds[0]!.requests > 0, `${a.name}: the neighbour was answered`);
    }
    assert.equal(a.settleMs.length, 1);
  }
  for (const row of r.rows) {
    for (const [k, v] of Object.entries(row)) {
      if (k === 'attack' || k === 'goalMet') continue;
      assert.ok(typeof v === 'number' && Number.isFinite(v) && v >= 0, `${row.attack}: ${k} = ${v} is a finite number`);
    }
    assert.ok(row.peakRssMiB > 0, `${row.attack}: peak RSS ${row.peakRssMiB} MiB`);
    assert.equal(row.budgetMiB, BUDGET);
    assert.equal(typeof row.goalMet, 'boolean');
  }
  assert.equal(r.goals.of, ATTACKS.length);
  assert.equal(r.goals.maxP99Ratio, HOSTILE_GOALS.maxP99Ratio);
  const table = formatHostile(r);
  for (const a of ATTACKS) assert.match(table, new RegExp(`^  ${a.name} `, 'm'));
  assert.match(table, /goal: neighbour p99 \(and mean\) under attack <= 3x alone/);
});
