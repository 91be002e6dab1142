// Keeps the integration-message benchmark from rotting: runs its functions with tiny sizes on a
// real bench host and checks that every figure is a sane positive number, that both sides
// added every message (an id each) and drained every message (each marked once, in batches of
// 16), and that the table prints. No timing is asserted: speed is the bench's business.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { formatMessages, MESSAGES_GOALS, measureAdd, measureMessages, measurePollMark, startMessagesHost, type Comparison, type MessagesHost } from './messages.ts';

let bench: MessagesHost;
before(async () => { bench = await startMessagesHost(); });
after(async () => { await bench.close(); });

function checkComparison(c: Comparison, count: number, rounds: number) {
  assert.equal(c.count, count);
  assert.equal(c.rounds, rounds);
  for (const s of [c.plughost, c.raw]) {
    assert.equal(s.perSec.length, rounds);
    for (const v of [...s.perSec, s.median]) assert.ok(Number.isFinite(v) && v > 0, `rate ${v} > 0`);
    assert.ok(Number.isFinite(s.cv) && s.cv >= 0);
  }
  assert.ok(Number.isFinite(c.ratio) && c.ratio > 0, `ratio ${c.ratio}`);
  assert.equal(c.ratios.length, rounds);
}

test('add: both sides add every message, with rates and a ratio', async () => {
  const r = await measureAdd(bench, { count: 30, rounds: 2, warmup: 5 });
  checkComparison(r, 30, 2);
  const [{ n }] = await bench.db('im_messages').where('group_name', 'like', 'add-%').count({ n: '*' }) as Array<{ n: number }>;
  assert.equal(Number(n), 30 * 2 * 2, 'each round stored its adds on both sides');
});

test('poll then mark: both sides drain every message exactly once in batches of 16', async () => {
  const r = await measurePollMark(bench, { count: 40, rounds: 2, warmup: 20 });
  checkComparison(r, 40, 2);
  assert.equal(r.batch, 16);
  // 40 messages: fetches of 16, 16, 8, then an empty one.
  for (const d of [...r.plughostDrains, ...r.rawDrains]) assert.deepEqual(d, { marked: 40, fetches: 4 });
  const left = await bench.db('im_messages').where('group_name', 'like', 'poll-%').whereNot({ status: 'sent' }).count({ n: '*' }) as Array<{ n: number }>;
  assert.equal(Number(left[0]!.n), 0);
});

test('measureMessages runs both on its own host and the table prints', async () => {
  const r = await measureMessages({ adds: 10, messages: 20, rounds: 1 });
  checkComparison(r.add, 10, 1);
  checkComparison(r.pollMark, 20, 1);
  assert.equal(r.goals.addRatio.value, r.add.ratio);
  assert.equal(r.goals.addRatio.met, r.add.ratio >= MESSAGES_GOALS.minAddRatio);
  assert.equal(r.goals.pollRatio.value, r.pollMark.ratio);
  const table = formatMessages(r);
  assert.match(table, /add, 10 per round, 1 rounds/);
  assert.match(table, /poll then mark, 20 messages per round in batches of 16/);
  assert.match(table, /ratio plughost \/ raw/);
});
