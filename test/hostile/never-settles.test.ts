// A plugin that never responds (a promise that never settles, or a setInterval that keeps
// ticking after run() returned) gets a 504 PLUGIN_TIMEOUT at its time limit, not before,
// with a run record; a well-behaved plugin keeps answering meanwhile; the same
// installation serves its next request. A timer due after the limit never fires: the run
// ends at its limit as one that did not respond, and its isolate (which ran no code past
// the limit) is kept.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertHostileOutcome, assertServesAgain, call, hostileBesideCalm, installFixture, metricTotal, RESTARTS, startEnv, type Env,
} from './harness.ts';

const LIMIT = 300;
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'never-settles.js', limits: { timeoutMs: LIMIT } }));
});
after(async () => {
  await env.close();
});

for (const kind of ['promise', 'interval']) {
  test(`${kind === 'promise' ? 'a promise that never settles' : 'a ticking setInterval and no response'} gets 504 PLUGIN_TIMEOUT at the limit`, async () => {
    const warm = await call(env, ns);
    assert.equal(warm.status, 200, warm.text);

    const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind }, { beacon: true });
    const run = await assertHostileOutcome(env, res, {
      status: 504, code: 'PLUGIN_TIMEOUT', limitMs: LIMIT, timeout: true, runStatus: 'timed-out',
      ...(kind === 'promise' ? { message: new RegExp(`did not respond within ${LIMIT} ms`) } : {}),
    });
    assert.ok(run.durationMs >= LIMIT, `run lasted ${run.durationMs} ms`);

    const next = await assertServesAgain(env, ns, LIMIT);
    assert.ok(next.calls >= 1);
  });
}

test('several never-settling runs at once all time out, and the installation still serves', async () => {
  const runs = await Promise.all([1, 2, 3].map(() => call(env, ns, { mode: 'bad', kind: 'interval' })));
  for (const res of runs) {
    await assertHostileOutcome(env, res, { status: 504, code: 'PLUGIN_TIMEOUT', limitMs: LIMIT, timeout: true, runStatus: 'timed-out' });
  }
  assert.equal(new Set(runs.map((r) => r.runId)).size, 3, 'each run has its own record');
  await assertServesAgain(env, ns, LIMIT);
});

test('a timer due after the limit never fires: 504 "did not respond", and the isolate is kept', async () => {
  const warm = await call(env, ns);
  assert.equal(warm.status, 200, warm.text);
  const restartsBefore = await metricTotal(env, RESTARTS);

  const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind: 'late-timer', delay: String(10 * LIMIT) }, { beacon: true });
  await assertHostileOutcome(env, res, {
    status: 504, code: 'PLUGIN_TIMEOUT', limitMs: LIMIT, timeout: true, runStatus: 'timed-out', message: new RegExp(`did not respond within ${LIMIT} ms`),
  });
  assert.deepEqual(env.beacon.requests.filter((r) => r.url === '/late-timer-fired'), [], `a timer set for ${10 * LIMIT} ms fired within the ${LIMIT} ms run`);
  assert.equal(await metricTotal(env, RESTARTS), restartsBefore, 'no plugin code ran past the limit, so no isolate was disposed');
  const next = await assertServesAgain(env, ns, LIMIT);
  assert.equal(next.calls, warm.body.calls + 2, 'the same isolate serves on');
});
