// A plugin that walks breadth-first through everything it can reach (globals, eventData,
// require and the host modules, module/exports, console, $db, fetch, every prototype, every
// property's value, getter and setter, functions' caller/arguments, caller chains from run()
// and from callbacks the host glue calls) finds nothing of the host: no isolated-vm object
// (Reference, ExternalCopy, Callback: `derefInto`, `applySync`, `copySync`… or a Reference's
// `typeof` beside `release`), no host constructor, no `__`-prefixed bootstrap global, no
// caller chain into the glue. A well-behaved plugin keeps answering meanwhile, and the same
// installation serves its next request.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertServesAgain, callCalm, getRun, installFixture, startEnv, type Env } from './harness.ts';

const LIMIT = 3000;
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'isolate-object-walk.js', limits: { timeoutMs: LIMIT } }));
});
after(async () => {
  await env.close();
});

test('a walk of every reachable object finds nothing of the host', async () => {
  const [res] = await Promise.all([env.h.api('GET', `/workspaces/hostile/${ns}/run?mode=bad`, undefined, null), callCalm(env)]);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const report = res.body;
  assert.deepEqual(report.selfCheck, ['applySync', 'derefInto', 'function Reference', 'instance of Reference', 'release+typeof'], 'the walk finds markers when they are there');
  assert.deepEqual(report.findings, [], `found host objects: ${JSON.stringify(report.findings)}`);
  assert.equal(report.findingCount, 0);
  assert.deepEqual(report.underscoreGlobals, [], 'no __-prefixed global is left');
  assert.ok(report.visited > 200, `the walk visited ${report.visited} objects`);
  assert.equal(report.exhausted, true, 'the walk reached everything before its cap');
  assert.deepEqual(report.callbacks, ['$db.catch', 'fetch.then', 'setTimeout', 'zn-http.then'], 'the walk ran from inside every callback');
  assert.deepEqual(report.chains, { run: [], '$db.catch': [], 'fetch.then': [], setTimeout: ['timer'], 'zn-http.then': [] },
    'no caller chain leads out of plugin code (`timer` is the plugin\'s own) into the host glue');
  assert.equal(report.required['zn-http'], 'function');
  assert.equal(report.required.requestify, 'object');
  const run = await getRun(env, res.headers.get('x-plughost-run')!);
  assert.equal(run.status, 'succeeded');
  await assertServesAgain(env, ns, LIMIT);
});
