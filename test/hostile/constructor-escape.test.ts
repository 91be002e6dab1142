// A plugin that tries the classic ways out of a JavaScript sandbox (Function constructors
// reached through every object it holds, eval, `Function('return this')`, dynamic import,
// require of Node built-ins, `module.constructor`, `globalThis.require`, caller chains,
// Error.prepareStackTrace's CallSites, and the error texts host operations send back) gets
// nothing of the host: no `process`, no Node `Buffer`, no host function or receiver, and no
// host file path or Node internal in any message or stack it can see. Asked to throw what it
// met, it gets a 500 PLUGIN_ERROR. A well-behaved plugin keeps answering; the same
// installation serves its next request.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertHostileOutcome, assertServesAgain, callCalm, getRun, hostileBesideCalm, hostTraces, installFixture, startEnv, type Env,
} from './harness.ts';

const LIMIT = 2000;
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'constructor-escape.js', limits: { timeoutMs: LIMIT } }));
});
after(async () => {
  await env.close();
});

const EXPECTED_ATTEMPTS = [
  'this.constructor.constructor', 'function-this.constructor.constructor', 'eventData.constructor.constructor', 'response.send.constructor',
  'console.log.constructor', 'fetch.constructor', '$db.get.constructor', 'require.constructor',
  'Function-return-this.process', 'Function-return-this.require', 'Function-return-this.global',
  'eval-process', 'indirect-eval-process', 'eval-require', 'globalThis.process', 'globalThis.require', 'globalThis.Buffer', 'globalThis.global',
  'Buffer', 'process', 'require-child_process', 'require-node:fs', 'require-fs', 'require-module', 'require-vm', 'require-isolated-vm',
  'require-absolute-host-path', 'require-parent-path', 'require.main', 'require.cache', 'module.require', 'module.parent',
  'module.constructor._load', 'module.constructor.createRequire', 'module.constructor._resolveFilename',
  'WebAssembly', 'SharedArrayBuffer', 'Atomics', '__plughost_post', 'run.caller', 'arguments.callee.caller',
];

test('every escape attempt fails and nothing of the host is visible', async () => {
  const [res] = await Promise.all([env.h.api('GET', `/workspaces/hostile/${ns}/run?mode=bad`, undefined, null), callCalm(env)]);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const report = res.body;

  assert.deepEqual(Object.keys(report.attempts).sort(), [...EXPECTED_ATTEMPTS].sort(), 'every attempt ran');
  for (const [name, a] of Object.entries(report.attempts as Record<string, { threw: boolean; got?: string; error?: string }>)) {
    assert.ok(a.threw || a.got === 'undefined' || a.got === 'null', `${name} got something: ${a.got}`);
  }
  for (const [name, a] of Object.entries(report.imports as Record<string, { outcome: string; got?: string }>)) {
    assert.notEqual(a.outcome, 'resolved', `${name} resolved: ${a.got}`);
  }
  assert.equal(Object.keys(report.imports).length, 5);
  assert.deepEqual(report.leaks, [], 'no stack frame outside the plugin handed out its function or receiver');
  assert.ok(report.frames.some((f: { file: string }) => f.file === 'plughost:///guest.js'), 'CallSites of the host glue were inspected');
  assert.deepEqual(report.typeofs, {
    process: 'undefined', Buffer: 'undefined', global: 'undefined', require: 'function', globalRequire: 'undefined',
    setImmediate: 'function', WebAssembly: 'undefined', moduleRequire: 'undefined', __dirname: 'string', __filename: 'string',
  });
  assert.deepEqual(report.paths, { __dirname: '/', __filename: '/plugin.js' }, 'module paths are the package\'s own, not the host\'s');

  const texts: string[] = report.texts;
  assert.ok(texts.length > 40, `the report carries the messages and stacks it saw (${texts.length})`);
  for (const trace of hostTraces()) {
    for (const text of texts) assert.ok(!text.includes(trace), `a text the plugin saw holds ${trace}: ${text}`);
  }
  assert.ok(!JSON.stringify(report).includes('/work/'));
  const run = await getRun(env, res.headers.get('x-plughost-run')!);
  assert.equal(run.status, 'succeeded');
});

test('rethrowing what require(\'child_process\') met gets 500 PLUGIN_ERROR; the next request is served', async () => {
  const res = await hostileBesideCalm(env, ns, { mode: 'bad', kind: 'throw' });
  const run = await assertHostileOutcome(env, res, {
    status: 500, code: 'PLUGIN_ERROR', limitMs: LIMIT, runStatus: 'failed', message: /Cannot find module 'child_process'/,
  });
  for (const trace of hostTraces()) assert.ok(!run.log.includes(trace), `the run log holds ${trace}`);
  await assertServesAgain(env, ns, LIMIT);
});
