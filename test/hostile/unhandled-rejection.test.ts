// A careless plugin that leaves a rejected promise unhandled (a fire-and-forget fetch that
// fails, a bare Promise.reject) and then responds normally gets its own response through:
// the rejection is the plugin's, not a fault of the host, so it must not be reported as a
// "host error", fail the run, or tear down the installation's isolate. A well-behaved
// plugin keeps answering meanwhile; the same installation serves its next request.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertServesAgain, call, getRun, hostileBesideCalm, installFixture, metricTotal, RESTARTS, startEnv, type Env } from './harness.ts';

const LIMIT = 500;
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'unhandled-rejection.js', limits: { timeoutMs: LIMIT } }));
});
after(async () => {
  await env.close();
});

for (const kind of ['op', 'sync']) {
  test(`an unhandled rejection (${kind === 'op' ? 'a failed fire-and-forget fetch' : 'Promise.reject in run()'}) does not fail the run or kill the isolate`, async () => {
    const warm = await call(env, ns);
    assert.equal(warm.status, 200, warm.text);
    const restartsBefore = await metricTotal(env, RESTARTS);

    const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.careless, kind);
    assert.equal(res.body.calls, warm.body.calls + 1);
    const run = await getRun(env, res.runId!);
    assert.equal(run.status, 'succeeded');
    assert.doesNotMatch(run.log, /host error/);

    const next = await assertServesAgain(env, ns, LIMIT);
    assert.equal(next.calls, warm.body.calls + 2, 'the same isolate serves on');
    assert.equal(await metricTotal(env, RESTARTS), restartsBefore, 'no isolate was restarted');
  });
}
