// A plugin that floods the microtask queue (a promise callback re-queuing itself, an
// endless await loop, queueMicrotask re-queuing itself) never yields to the host: it is
// stopped at its time limit with a 504 PLUGIN_TIMEOUT and a run record, a well-behaved
// plugin keeps answering meanwhile, and the same installation serves from a fresh isolate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertHostileOutcome, assertServesAgain, call, hostileBesideCalm, installFixture, metricTotal, RESTARTS, startEnv, type Env,
} from './harness.ts';

const LIMIT = 400;
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'microtask-flood.js', limits: { timeoutMs: LIMIT } }));
});
after(async () => {
  await env.close();
});

for (const kind of ['then', 'await', 'queueMicrotask']) {
  test(`a ${kind} microtask flood gets 504 PLUGIN_TIMEOUT at the limit; neighbours and the next request are served`, async () => {
    const warm = await call(env, ns);
    assert.equal(warm.status, 200, warm.text);
    const restartsBefore = await metricTotal(env, RESTARTS);

    const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind }, { beacon: true });
    await assertHostileOutcome(env, res, {
      status: 504, code: 'PLUGIN_TIMEOUT', limitMs: LIMIT, timeout: true, runStatus: 'timed-out', message: /time limit/,
    });
    assert.equal(await metricTotal(env, RESTARTS), restartsBefore + 1, 'the flooded isolate was disposed');

    const next = await assertServesAgain(env, ns, LIMIT);
    assert.equal(next.calls, 1, 'a fresh isolate (its module state starts over) serves the next request');
  });
}
