// A plugin that spins forever (in run(), in a promise continuation, in a timer callback, or
// after it has already responded) is stopped at its time limit with a 504 PLUGIN_TIMEOUT
// and a run record; a well-behaved plugin keeps answering meanwhile; the same installation
// then serves from a fresh isolate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertHostileOutcome, assertServesAgain, call, callCalm, hostileBesideCalm, installFixture, metricTotal, RESTARTS, startEnv, type Env,
} from './harness.ts';

const LIMIT = 400;
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'infinite-loop.js', limits: { timeoutMs: LIMIT } }));
});
after(async () => {
  await env.close();
});

for (const kind of ['sync', 'continuation', 'timer']) {
  test(`a loop ${kind === 'sync' ? 'in run()' : `in a ${kind} callback`} gets 504 PLUGIN_TIMEOUT at its limit; neighbours and the next request are served`, async () => {
    const warm = await call(env, ns);
    assert.equal(warm.status, 200, warm.text);
    const restartsBefore = await metricTotal(env, RESTARTS);

    const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind }, { beacon: true });
    const run = await assertHostileOutcome(env, res, {
      status: 504, code: 'PLUGIN_TIMEOUT', limitMs: LIMIT, timeout: true, runStatus: 'timed-out', message: /time limit|within/,
    });
    assert.ok(run.durationMs >= LIMIT - 5, `run lasted ${run.durationMs} ms`);
    assert.equal(await metricTotal(env, RESTARTS), restartsBefore + 1, 'the spinning isolate was disposed');

    const next = await assertServesAgain(env, ns, LIMIT);
    assert.equal(next.calls, 1, 'a fresh isolate (its module state starts over) serves the next request');
  });
}

test('a loop after responding: the client has its 200, the isolate is stopped, and the next request is served', async () => {
  const restartsBefore = await metricTotal(env, RESTARTS);
  const started = performance.now();
  const res = await call(env, ns, { mode: 'bad', kind: 'after-respond' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.spinning, true);
  assert.ok(res.ms < LIMIT, `the response sent before the loop went out at once (${Math.round(res.ms)} ms)`);
  const runBefore = res.runId!;

  // Sent while the isolate still spins: it must not be failed for the earlier run's loop.
  await callCalm(env);
  const next = await call(env, ns);
  assert.equal(next.status, 200, `the next request was failed for the previous run's loop: ${next.text}`);
  assert.equal(next.body.ok, true);
  assert.ok(performance.now() - started < LIMIT + 1500, 'the next request is served within the earlier run\'s limit plus a margin');
  assert.equal(await metricTotal(env, RESTARTS), restartsBefore + 1, 'the spinning isolate was disposed');
  const first = await env.h.api('GET', `/api/v1/workspaces/hostile/runs/${runBefore}`);
  assert.equal(first.body.status, 'succeeded');
  assert.equal(first.body.httpStatus, 200);
});
