// A plugin that allocates without end in its JS heap (arrays, flat strings, an object graph)
// with `limits.memoryMb: 32` gets a 500 PLUGIN_MEMORY_LIMIT well within its time limit, with
// a run record; its isolate is disposed and the host process is not harmed; a well-behaved
// plugin keeps answering meanwhile; the same installation then serves from a fresh isolate
// with its memory back. ArrayBuffers (outside the JS heap) past the limit are refused with a
// RangeError the plugin sees (500 PLUGIN_ERROR); one that catches and keeps trying is ended
// at its time limit (504 PLUGIN_TIMEOUT).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertHostileOutcome, assertServesAgain, call, hostileBesideCalm, installFixture, metricTotal, RESTARTS, startEnv, type Env,
} from './harness.ts';

const LIMIT = 2000; // generous: a heap filled with small objects spends a while in GC before it hits the limit
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'memory-bomb.js', limits: { timeoutMs: LIMIT, memoryMb: 32 } }));
});
after(async () => {
  await env.close();
});

for (const kind of ['array', 'string', 'object']) {
  test(`growing ${kind}s past 32 MiB gets 500 PLUGIN_MEMORY_LIMIT; neighbours and the next request are served`, async () => {
    const warm = await call(env, ns);
    assert.equal(warm.status, 200, warm.text);
    const restartsBefore = await metricTotal(env, RESTARTS);
    const hostRss = process.memoryUsage().rss;

    const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind }, { beacon: true });
    await assertHostileOutcome(env, res, {
      status: 500, code: 'PLUGIN_MEMORY_LIMIT', limitMs: LIMIT, runStatus: 'failed', message: /out of memory \(limit 32 MiB\)/,
    });
    assert.equal(await metricTotal(env, RESTARTS), restartsBefore + 1, 'the isolate over its limit was disposed');
    assert.ok(process.memoryUsage().rss - hostRss < 256 * 1024 * 1024, 'the host process did not take on the plugin\'s allocations');

    const next = await assertServesAgain(env, ns, LIMIT);
    assert.equal(next.calls, 1, 'a fresh isolate (its module state starts over) serves the next request');
    assert.equal(next.hoard, 0, 'with its memory back');
  });
}

test('ArrayBuffers past 32 MiB are refused: the RangeError fails the run with 500 PLUGIN_ERROR, and the isolate serves on', async () => {
  const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind: 'buffer' }, { beacon: true });
  await assertHostileOutcome(env, res, {
    status: 500, code: 'PLUGIN_ERROR', limitMs: LIMIT, runStatus: 'failed', message: /RangeError: Array buffer allocation failed/,
  });
  const next = await assertServesAgain(env, ns, LIMIT);
  assert.equal(next.hoard, 0);
});

test('a plugin that catches every refused ArrayBuffer and keeps trying is ended at its limit with 504 PLUGIN_TIMEOUT', async () => {
  const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind: 'buffer-retry' }, { beacon: true });
  await assertHostileOutcome(env, res, {
    status: 504, code: 'PLUGIN_TIMEOUT', limitMs: LIMIT, timeout: true, runStatus: 'timed-out',
  });
  await assertServesAgain(env, ns, LIMIT);
});
