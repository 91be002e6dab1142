// Admin API authentication and authorisation (SPEC section 7): bearer tokens, the operator
// token over everything, operator-only workspace tokens that manage exactly one workspace
// (403 on every path of another, for every method), and tokens stored only as hashes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import {
  assertError, createWorkspace, databaseFilesContain, installOk, publishOk, routePlugin, send, tarGzOf, upload,
} from './fixtures/api.ts';

let h: TestHost;
let tokenA: string;
/** An installation in workspace `b`, the one token A must not touch. */
let installationB: string;
let formB: number;
let runB: string;

before(async () => {
  h = await startHost();
  await createWorkspace(h, 'a', 'Workspace A');
  await createWorkspace(h, 'b', 'Workspace B');
  await publishOk(h, routePlugin({ name: 'hello', namespace: 'hello' }, 'hello'));
  await publishOk(h, routePlugin({ name: 'other', namespace: 'other' }, 'other'));
  installationB = (await installOk(h, 'b', { plugin: 'hello' })).id;
  formB = (await h.api('POST', '/api/v1/workspaces/b/forms', { name: 'B form' })).body.data.id;
  const call = await fetch(`${h.url}/workspaces/b/hello/hello`);
  assert.equal(call.status, 200);
  runB = call.headers.get('x-plughost-run')!;
  assert.ok(runB);
  const made = await h.api('POST', '/api/v1/workspaces/a/tokens', {});
  assert.equal(made.status, 201, JSON.stringify(made.body));
  tokenA = made.body.token;
});
after(async () => {
  await h.close();
});

test('no token, an unknown token or a non-bearer header is 401 UNAUTHORIZED', async () => {
  assertError(await h.api('GET', '/api/v1/workspaces', undefined, null), 401, 'UNAUTHORIZED', { details: false });
  assertError(await h.api('GET', '/api/v1/workspaces', undefined, 'phw_not-a-token-this-host-gave-out'), 401, 'UNAUTHORIZED', { details: false });
  assertError(await send(h, 'GET', '/api/v1/workspaces', { token: null, headers: { authorization: `Basic ${Buffer.from(`x:${h.operatorToken}`).toString('base64')}` } }), 401, 'UNAUTHORIZED');
  assertError(await send(h, 'GET', '/api/v1/workspaces', { token: null, headers: { authorization: 'Bearer' } }), 401, 'UNAUTHORIZED');
  // Refused writes store nothing.
  assertError(await h.api('POST', '/api/v1/workspaces', { id: 'sneaky', name: 'Sneaky' }, null), 401, 'UNAUTHORIZED');
  assertError(await h.api('POST', '/api/v1/workspaces/a/installations', { plugin: 'other' }, 'phw_unknown'), 401, 'UNAUTHORIZED');
  assertError(await upload(h, await tarGzOf(routePlugin({ name: 'anon' })), 'application/gzip', null), 401, 'UNAUTHORIZED');
  assertError(await h.api('GET', '/api/v1/workspaces/sneaky'), 404, 'WORKSPACE_NOT_FOUND');
  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/a/installations')).body.data, []);
  assertError(await h.api('GET', '/api/v1/plugins/anon'), 404, 'PLUGIN_NOT_FOUND');
});

test('the operator token works on every kind of path', async () => {
  assert.equal((await h.api('GET', '/api/v1/workspaces')).status, 200);
  assert.equal((await h.api('GET', '/api/v1/workspaces/a')).status, 200);
  assert.equal((await h.api('GET', '/api/v1/workspaces/b')).status, 200);
  assert.equal((await h.api('GET', '/api/v1/plugins')).status, 200);
  assert.equal((await h.api('GET', '/api/v1/plugins/hello')).status, 200);
  assert.equal((await h.api('GET', '/api/v1/workspaces/b/installations')).status, 200);
  assert.equal((await h.api('GET', `/api/v1/workspaces/b/installations/${installationB}`)).status, 200);
  assert.equal((await h.api('GET', '/api/v1/workspaces/b/runs')).status, 200);
  assert.equal((await h.api('GET', `/api/v1/workspaces/b/runs/${runB}`)).status, 200);
  assert.equal((await h.api('GET', '/api/v1/workspaces/b/forms')).status, 200);
  assert.equal((await h.api('GET', `/api/v1/workspaces/b/forms/${formB}/records`)).status, 200);
  const ws = await h.api('POST', '/api/v1/workspaces', { id: 'op-made', name: 'Made by the operator' });
  assert.equal(ws.status, 201);
  await publishOk(h, routePlugin({ name: 'op-plugin', namespace: 'op' }));
  const inst = await installOk(h, 'op-made', { plugin: 'op-plugin' });
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/op-made/installations/${inst.id}`, { active: false })).status, 200);
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/op-made/installations/${inst.id}`)).status, 204);
});

test('POST /workspaces/:ws/tokens is operator-only and answers 201 {token}', async () => {
  const made = await h.api('POST', '/api/v1/workspaces/b/tokens', {});
  assert.equal(made.status, 201);
  assert.equal(typeof made.body.token, 'string');
  assert.ok(made.body.token.length >= 20, made.body.token);
  assert.equal(made.headers.get('cache-control'), 'no-store');
  // Each call makes a new token, and it works at once.
  const again = await h.api('POST', '/api/v1/workspaces/b/tokens');
  assert.equal(again.status, 201);
  assert.notEqual(again.body.token, made.body.token);
  assert.equal((await h.api('GET', '/api/v1/workspaces/b', undefined, again.body.token)).status, 200);

  // A workspace token may not mint tokens, not even for its own workspace.
  assertError(await h.api('POST', '/api/v1/workspaces/a/tokens', {}, tokenA), 403, 'FORBIDDEN', { details: false });
  assertError(await h.api('POST', '/api/v1/workspaces/b/tokens', {}, tokenA), 403, 'FORBIDDEN', { details: false });
  assertError(await h.api('POST', '/api/v1/workspaces/nowhere/tokens', {}), 404, 'WORKSPACE_NOT_FOUND');
});

test('a workspace token reads and manages its own workspace', async () => {
  const ws = await h.api('GET', '/api/v1/workspaces/a', undefined, tokenA);
  assert.equal(ws.status, 200);
  assert.equal(ws.body.id, 'a');
  assert.equal(ws.body.name, 'Workspace A');

  // Installations: install, list, read, change, uninstall.
  const installed = await h.api('POST', '/api/v1/workspaces/a/installations', { plugin: 'hello' }, tokenA);
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  const id = installed.body.id;
  const list = await h.api('GET', '/api/v1/workspaces/a/installations', undefined, tokenA);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.data.map((i: { id: string }) => i.id), [id]);
  assert.equal((await h.api('GET', `/api/v1/workspaces/a/installations/${id}`, undefined, tokenA)).body.id, id);
  const patched = await h.api('PATCH', `/api/v1/workspaces/a/installations/${id}`, { active: false }, tokenA);
  assert.equal(patched.status, 200);
  assert.equal(patched.body.active, false);
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/a/installations/${id}`, { active: true }, tokenA)).status, 200);

  // Runs: a call to its route is in its history, with its log.
  const call = await fetch(`${h.url}/workspaces/a/hello/hello`);
  assert.equal(call.status, 200);
  const runId = call.headers.get('x-plughost-run')!;
  const runs = await h.api('GET', '/api/v1/workspaces/a/runs', undefined, tokenA);
  assert.equal(runs.status, 200);
  assert.deepEqual(runs.body.data.map((r: { id: string }) => r.id), [runId]);
  const run = await h.api('GET', `/api/v1/workspaces/a/runs/${runId}`, undefined, tokenA);
  assert.equal(run.status, 200);
  assert.equal(run.body.id, runId);

  // Forms, folders, records.
  const form = await h.api('POST', '/api/v1/workspaces/a/forms', { name: 'Tasks' }, tokenA);
  assert.equal(form.status, 201);
  const formId = form.body.data.id;
  assert.equal((await h.api('POST', `/api/v1/workspaces/a/forms/${formId}/folders`, { name: 'Done' }, tokenA)).status, 201);
  assert.equal((await h.api('POST', `/api/v1/workspaces/a/forms/${formId}/records`, { name: 'Write tests' }, tokenA)).status, 201);
  const records = await h.api('GET', `/api/v1/workspaces/a/forms/${formId}/records`, undefined, tokenA);
  assert.equal(records.status, 200);
  assert.equal(records.body.totalCount, 1);
  assert.equal((await h.api('GET', '/api/v1/workspaces/a/forms', undefined, tokenA)).body.totalCount, 1);
  assert.equal((await h.api('GET', `/api/v1/workspaces/a/forms/${formId}`, undefined, tokenA)).status, 200);
  assert.equal((await h.api('GET', `/api/v1/workspaces/a/forms/${formId}/folders`, undefined, tokenA)).status, 200);

  assert.equal((await h.api('DELETE', `/api/v1/workspaces/a/installations/${id}`, undefined, tokenA)).status, 204);
  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/a/installations', undefined, tokenA)).body.data, []);
});

test('a workspace token gets 403 FORBIDDEN on every path of another workspace, and changes nothing there', async () => {
  const before = {
    installations: (await h.api('GET', '/api/v1/workspaces/b/installations')).body,
    forms: (await h.api('GET', '/api/v1/workspaces/b/forms')).body,
    records: (await h.api('GET', `/api/v1/workspaces/b/forms/${formB}/records`)).body,
    folders: (await h.api('GET', `/api/v1/workspaces/b/forms/${formB}/folders`)).body,
  };
  const inst = `/api/v1/workspaces/b/installations/${installationB}`;
  const calls: Array<[string, string, unknown?]> = [
    ['GET', '/api/v1/workspaces/b'],
    ['GET', '/api/v1/workspaces/b/installations'],
    ['POST', '/api/v1/workspaces/b/installations', { plugin: 'other' }],
    ['GET', inst],
    ['PATCH', inst, { active: false }],
    ['PATCH', inst, { version: '1.0.0' }],
    ['DELETE', inst],
    ['GET', '/api/v1/workspaces/b/installations/inst_unknown'],
    ['DELETE', '/api/v1/workspaces/b/installations/inst_unknown'],
    ['GET', '/api/v1/workspaces/b/runs'],
    ['GET', '/api/v1/workspaces/b/runs?kind=route'],
    ['GET', `/api/v1/workspaces/b/runs/${runB}`],
    ['GET', '/api/v1/workspaces/b/forms'],
    ['POST', '/api/v1/workspaces/b/forms', { name: 'Injected' }],
    ['GET', `/api/v1/workspaces/b/forms/${formB}`],
    ['GET', `/api/v1/workspaces/b/forms/${formB}/folders`],
    ['POST', `/api/v1/workspaces/b/forms/${formB}/folders`, { name: 'Injected' }],
    ['GET', `/api/v1/workspaces/b/forms/${formB}/records`],
    ['POST', `/api/v1/workspaces/b/forms/${formB}/records`, { name: 'Injected' }],
    // A workspace that does not exist is no different: its existence is not revealed.
    ['GET', '/api/v1/workspaces/nowhere'],
    ['GET', '/api/v1/workspaces/nowhere/installations'],
    ['POST', '/api/v1/workspaces/nowhere/installations', { plugin: 'hello' }],
  ];
  for (const [method, path, body] of calls) {
    const res = await h.api(method, path, body, tokenA);
    assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assertError(res, 403, 'FORBIDDEN', { details: false });
  }
  // Bodies that would fail validation are refused for the token first, not parsed.
  assertError(await send(h, 'POST', '/api/v1/workspaces/b/installations', { token: tokenA, body: '{not json', headers: { 'content-type': 'application/json' } }), 403, 'FORBIDDEN');

  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/b/installations')).body, before.installations);
  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/b/forms')).body, before.forms);
  assert.deepEqual((await h.api('GET', `/api/v1/workspaces/b/forms/${formB}/records`)).body, before.records);
  assert.deepEqual((await h.api('GET', `/api/v1/workspaces/b/forms/${formB}/folders`)).body, before.folders);
  const route = await fetch(`${h.url}/workspaces/b/hello/hello`);
  assert.equal(route.status, 200);
  assert.deepEqual(await route.json(), { answer: 'hello' });
});

test('a workspace token lists only its own workspace', async () => {
  const all = await h.api('GET', '/api/v1/workspaces');
  assert.ok(all.body.data.length >= 3);
  const mine = await h.api('GET', '/api/v1/workspaces', undefined, tokenA);
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.body.data.map((w: { id: string }) => w.id), ['a']);
  assert.equal(mine.body.nextCursor, null);
  const paged = await h.api('GET', '/api/v1/workspaces?limit=1', undefined, tokenA);
  assert.deepEqual(paged.body.data.map((w: { id: string }) => w.id), ['a']);
  assert.equal(paged.body.nextCursor, null);
});

test('a workspace token cannot create workspaces or publish plugins', async () => {
  assertError(await h.api('POST', '/api/v1/workspaces', { id: 'by-token', name: 'By token' }, tokenA), 403, 'FORBIDDEN', { details: false });
  assertError(await h.api('GET', '/api/v1/workspaces/by-token'), 404, 'WORKSPACE_NOT_FOUND');
  const pluginsBefore = (await h.api('GET', '/api/v1/plugins')).body;
  assertError(await upload(h, await tarGzOf(routePlugin({ name: 'by-token', namespace: 'bytoken' })), 'application/gzip', tokenA), 403, 'FORBIDDEN', { details: false });
  assertError(await h.api('GET', '/api/v1/plugins/by-token'), 404, 'PLUGIN_NOT_FOUND');
  assert.deepEqual((await h.api('GET', '/api/v1/plugins')).body, pluginsBefore);
});

test('tokens are stored hashed: no row and no database file holds a clear token', async () => {
  const fresh = (await h.api('POST', '/api/v1/workspaces/a/tokens')).body.token as string;
  assert.equal((await h.api('GET', '/api/v1/workspaces/a', undefined, fresh)).status, 200);
  const rows: Array<Record<string, unknown>> = await h.host.store.db('tokens').select('*');
  assert.ok(rows.length >= 4, `expected the operator token and three workspace tokens, got ${rows.length}`);
  const dump = JSON.stringify(rows);
  for (const clear of [h.operatorToken, tokenA, fresh]) {
    assert.ok(!dump.includes(clear), 'a clear token is in the tokens table');
    // Not even a long piece of it.
    assert.ok(!dump.includes(clear.slice(4, 20)), 'part of a clear token is in the tokens table');
  }
  for (const row of rows) assert.match(String(row.token_hash), /^[0-9a-f]{64}$/);
  assert.equal(new Set(rows.map((r) => r.token_hash)).size, rows.length);
  const workspaceRows = rows.filter((r) => r.kind === 'workspace');
  assert.ok(workspaceRows.every((r) => r.workspace_id === 'a' || r.workspace_id === 'b'));
  for (const clear of [h.operatorToken, tokenA, fresh]) assert.notEqual(databaseFilesContain(h, clear), true, 'a clear token is in the database files');
});
