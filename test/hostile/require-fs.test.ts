// A plugin that asks for Node built-ins: `require('fs')` (or `node:fs`, `child_process`)
// inside run() fails that run with a 500 PLUGIN_ERROR whose message names the module, and
// the same installation serves its next request; `require('fs')` at the top level of the
// module fails loading with a 500 PLUGIN_LOAD_ERROR naming the module on every call (each
// from a fresh isolate, never a stuck one) until a fixed version is installed over it.
// A well-behaved plugin keeps answering throughout.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertHostileOutcome, assertServesAgain, call, hostileBesideCalm, installFixture, metricTotal, publishFixture, RESTARTS, startEnv, WS, type Env,
} from './harness.ts';

const LIMIT = 400;
let env: Env;
let ns: string;

before(async () => {
  env = await startEnv();
  ({ namespace: ns } = await installFixture(env, { fixture: 'require-fs.js', limits: { timeoutMs: LIMIT } }));
});
after(async () => {
  await env.close();
});

for (const mod of ['fs', 'node:fs', 'child_process']) {
  test(`require('${mod}') inside run() gets 500 PLUGIN_ERROR naming the module; the next request is served`, async () => {
    const res = await hostileBesideCalm(env, ns, { mode: 'bad', module: mod });
    const escaped = mod.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const run = await assertHostileOutcome(env, res, {
      status: 500, code: 'PLUGIN_ERROR', limitMs: LIMIT, runStatus: 'failed', message: new RegExp(`Cannot find module '${escaped}'`),
    });
    assert.match(run.error.message, /Node built-ins are not available/);
    await assertServesAgain(env, ns, LIMIT);
  });
}

test("require('fs') at the top level gets 500 PLUGIN_LOAD_ERROR on every call until a fixed version replaces it", async () => {
  const name = 'require-fs-top';
  await publishFixture(env, { fixture: 'require-fs.js', name, version: '1.0.0', limits: { timeoutMs: LIMIT }, files: { 'load-mode.json': { topLevel: true } } });
  const installed = await env.h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: name });
  assert.equal(installed.status, 201, 'a package that fails to load still installs: the error is reported when it is called');
  const restartsBefore = await metricTotal(env, RESTARTS);

  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await hostileBesideCalm(env, name, {});
    const run = await assertHostileOutcome(env, res, {
      status: 500, code: 'PLUGIN_LOAD_ERROR', limitMs: LIMIT, runStatus: 'failed', message: /Cannot find module 'fs'/,
    });
    assert.match(run.log, /\[host\] PLUGIN_LOAD_ERROR: Error: Cannot find module .fs.[^]*plugin:\/\/\/plugin\.js:12/);
  }
  assert.equal(await metricTotal(env, RESTARTS), restartsBefore + 2, 'each call loaded the package in a fresh isolate, and each was disposed');

  await publishFixture(env, { fixture: 'require-fs.js', name, version: '1.0.1', limits: { timeoutMs: LIMIT }, files: { 'load-mode.json': { topLevel: false } } });
  const changed = await env.h.api('PATCH', `/api/v1/workspaces/${WS}/installations/${installed.body.id}`, { version: '1.0.1' });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  const next = await assertServesAgain(env, name, LIMIT);
  assert.equal(next.calls, 1);
});
