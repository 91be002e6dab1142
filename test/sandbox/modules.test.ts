// The CommonJS loader inside the sandbox: relative requires with and without `.js`, `.json`,
// a folder's index.js, `../` inside the package, a pure-JS package under node_modules (its
// package.json `main`), nested node_modules, the module cache, circular requires, the three
// ways of exporting (`module.exports =`, `exports.x =`, Freshworks' `exports = {…}`), the host
// modules, requires that escape the package or name unknown modules, and a syntax error in a
// required file (PLUGIN_LOAD_ERROR with the file named in the run's log).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { fixtureFiles } from './fixtures/files.ts';

let h: TestHost;
let checks: Record<string, { ok: boolean; value?: any; name?: string; message?: string; code?: string }>;

before(async () => {
  h = await startHost();
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'mods', name: 'Modules' })).status, 201);
  const published = await h.publish(fixtureFiles('modules', {
    'plugin.json': {
      name: 'module-loader', version: '1.0.0', namespace: 'mods',
      services: [{ route: 'checks', main: 'plugin.js' }, { route: 'freshworks', main: 'freshworks.js' }],
      limits: { timeoutMs: 2000 },
    },
  }));
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const installed = await h.api('POST', '/api/v1/workspaces/mods/installations', { plugin: 'module-loader' });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  const res = await fetch(`${h.url}/workspaces/mods/mods/checks`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  checks = JSON.parse(text);
});
after(async () => {
  await h?.close();
});

function value(name: string): any {
  const check = checks[name];
  assert.ok(check, `no check ${name}`);
  assert.equal(check.ok, true, `${name} threw: ${check.name}: ${check.message}`);
  return check.value;
}

function failure(name: string): { name?: string; message?: string; code?: string } {
  const check = checks[name];
  assert.ok(check, `no check ${name}`);
  assert.equal(check.ok, false, `${name} did not throw: ${JSON.stringify(check.value)}`);
  return check;
}

test('relative requires resolve with and without .js, and .json files load as data', () => {
  assert.equal(value('relativeNoExt'), 'util from /lib/util.js');
  assert.equal(value('relativeWithExt'), 'util from /lib/util.js');
  assert.deepEqual(value('json'), { answer: 42, list: [1, 2, 3] });
  assert.equal(value('jsonNoExt'), true);
});

test('modules are cached: every spelling of a path gives the same object, and the file runs once', () => {
  assert.equal(value('sameObject'), true);
  assert.equal(value('loadCount'), 1);
});

test('a folder resolves to its index.js, and ../ moves within the package', () => {
  assert.equal(value('folderIndex'), 'lib/index.js');
  assert.equal(value('parentWithinPackage'), 'hello from shared/constants.js');
  assert.deepEqual(value('filenames'), { filename: '/lib/helpers/deep.js', dirname: '/lib/helpers' });
});

test('a pure-JS package under node_modules loads through its package.json main', () => {
  assert.equal(value('packageMain'), 'hello, world');
  assert.equal(value('packageInternal'), 'purejs/src/internal.js');
});

test('a package finds its own nested node_modules first, the plugin the top-level one', () => {
  assert.deepEqual(value('nestedNodeModules'), {
    top: 'inner@1 (top level)', viaOuter: 'inner@2 (nested under outer)', outerRelative: 'outer/lib/helper.js',
  });
});

test('circular requires see the partial exports, as in Node', () => {
  assert.deepEqual(value('circular'), { bSawFromA: ['early'], bFinished: true, aLoadedInB: 'undefined', sameA: true });
});

test('module.exports =, exports.x = and the Freshworks exports = {…} all export', () => {
  assert.equal(value('moduleExportsFunction'), 'function:4');
  assert.deepEqual(value('exportsDot'), { one: 1, two: 'two' });
  assert.equal(value('exportsReassigned'), 'run:ran');
  assert.deepEqual(value('moduleExportsWinsOverExports'), { kept: true });
});

test('a service module written as exports = { run } serves its route', async () => {
  const res = await fetch(`${h.url}/workspaces/mods/mods/freshworks`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { style: 'exports = {...}' });
});

test('the host modules: zn-http is a function returning a client, requestify an object of methods', () => {
  assert.deepEqual(value('znHttp'), { type: 'function', methods: ['function', 'function', 'function', 'function'], again: true });
  assert.deepEqual(value('requestify'), ['function', 'function', 'function', 'function', 'function']);
});

test('a require escaping the package, or an absolute path, throws naming what was asked for', () => {
  for (const [name, spec] of [['escape', '../../etc'], ['escapeDeep', './lib/../../plugin.json'], ['absolute', '/etc/passwd']] as const) {
    const err = failure(name);
    assert.equal(err.code, 'MODULE_NOT_FOUND', name);
    assert.ok(err.message!.includes(`'${spec}'`), `${name}: ${err.message}`);
  }
});

test('Node built-ins and unknown modules throw an error naming the module', () => {
  for (const [name, spec] of [['fs', 'fs'], ['nodeFs', 'node:fs'], ['childProcess', 'child_process'], ['unknownPackage', 'left-pad'], ['missingRelative', './lib/nope']] as const) {
    const err = failure(name);
    assert.equal(err.name, 'Error', name);
    assert.equal(err.code, 'MODULE_NOT_FOUND', name);
    assert.match(err.message!, new RegExp(`^Cannot find module '${spec.replace(/[.]/g, '\\.')}'`), name);
  }
  const notString = failure('notAString');
  assert.equal(notString.name, 'TypeError');
});

test('a syntax error in a required file is a PLUGIN_LOAD_ERROR whose run log names the file', async () => {
  const published = await h.publish(fixtureFiles('broken-module', {
    'plugin.json': { name: 'broken-module', version: '1.0.0', namespace: 'broken', services: [{ route: 'go' }], limits: { timeoutMs: 2000 } },
  }));
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await h.api('POST', '/api/v1/workspaces/mods/installations', { plugin: 'broken-module' })).status, 201);

  const res = await fetch(`${h.url}/workspaces/mods/broken/go`);
  const body = await res.json() as { error: { code: string; message: string } };
  assert.equal(res.status, 500);
  assert.equal(body.error.code, 'PLUGIN_LOAD_ERROR');
  assert.match(body.error.message, /SyntaxError/);
  const runId = res.headers.get('x-plughost-run');
  assert.ok(runId, 'the response names its run');

  const run = await h.api('GET', `/api/v1/workspaces/mods/runs/${runId}`);
  assert.equal(run.status, 200);
  assert.equal(run.body.status, 'failed');
  assert.equal(run.body.error.code, 'PLUGIN_LOAD_ERROR');
  assert.match(run.body.log, /SyntaxError/);
  assert.match(run.body.log, /lib\/broken-helper\.js/, `the log does not name the broken file:\n${run.body.log}`);

  // The host and the other plugin carry on.
  const again = await fetch(`${h.url}/workspaces/mods/mods/freshworks`);
  assert.equal(again.status, 200);
  await again.body?.cancel();
});
