// API keys for Haplo `/api` respond roots: an admin makes a key for a path under /api/ (201
// with the key, shown once; the list never shows it) and revokes it (204); another system
// calls the plugin's P.respond handler under that path with HTTP Basic haplo:<key> or a bearer
// key, which the plugin never sees. A wrong, revoked or missing key is 401 with a Basic
// challenge; a key of another path (`/api/x` opens `/api/x/…`, not `/api/xy`) or workspace is
// 403; `/do` takes tokens only. The native poll API steps aside for a plugin of the workspace
// that declares its root.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { hashToken } from '../../runtime/secrets.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { SEED_DISCOVER, createWorkspace, install, publishPlugin, workspaceToken } from './fixtures/haplo.ts';

const START = Date.parse('2026-06-01T09:00:00Z');
const clock = createVirtualClock(START);

const exampleApi = {
  'plugin.json': {
    pluginName: 'example_api', pluginVersion: 1, apiVersion: 4, load: ['js/example_api.js'],
    respond: ['/api/example-api', '/api/example-api-admin', '/do/example-api'],
  },
  'js/example_api.js': `
P.respond("GET,POST", "/api/example-api/echo", [
    {parameter:"q", as:"string", optional:true}
], function(E, q) {
    E.response.kind = 'json';
    E.response.body = {q: q === undefined ? null : q, method: E.request.method, path: E.request.path, headers: E.request.headers};
});
P.respond("GET", "/api/example-api-admin/stats", [], function(E) {
    E.response.kind = 'json';
    E.response.body = {stats: true};
});
P.respond("GET", "/do/example-api/page", [], function(E) {
    E.response.kind = 'text';
    E.response.body = 'page';
});
`,
};

/** A Haplo plugin that serves Haplo's poll API path itself. */
const ownPoll = {
  'plugin.json': { pluginName: 'example_own_poll', pluginVersion: 1, apiVersion: 4, load: ['js/own_poll.js'], respond: ['/api/haplo-integration-messages'] },
  'js/own_poll.js': `
P.respond("GET,POST", "/api/haplo-integration-messages/poll", [
    {pathElement:0, as:"string"}, {pathElement:1, as:"string"}
], function(E, group, action) {
    E.response.kind = 'json';
    E.response.body = {servedBy: 'example_own_poll', group: group, action: action};
});
`,
};

let h: TestHost;
let tokenA: string; // workspace token of ak-a
let tokenB: string; // workspace token of ak-b
let keyA: string; // ak-a, /api/example-api
let keyB: string; // ak-b, /api/example-api

const basic = (key: string, user = 'haplo') => `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`;

async function call(ws: string, path: string, auth?: string, init: RequestInit = {}) {
  const res = await fetch(`${h.url}/workspaces/${ws}${path}`, { ...init, headers: { ...(auth ? { authorization: auth } : {}), ...(init.headers ?? {}) } });
  const text = await res.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, text, headers: res.headers };
}

async function createKey(ws: string, name: string, path: string, token?: string): Promise<{ id: string; key: string }> {
  const res = await h.api('POST', `/api/v1/workspaces/${ws}/api-keys`, { name, path }, token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

const listKeys = async (ws: string) => {
  const res = await h.api('GET', `/api/v1/workspaces/${ws}/api-keys`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data as Array<Record<string, unknown>>;
};

function assertUnauthorized(res: Awaited<ReturnType<typeof call>>, what: string) {
  assert.equal(res.status, 401, `${what}: ${res.text}`);
  assert.equal(res.body.error.code, 'UNAUTHORIZED', what);
  assert.equal(res.headers.get('www-authenticate'), 'Basic realm="haplo"', what);
}

function assertForbidden(res: Awaited<ReturnType<typeof call>>, what: string) {
  assert.equal(res.status, 403, `${what}: ${res.text}`);
  assert.equal(res.body.error.code, 'FORBIDDEN', what);
}

before(async () => {
  h = await startHost({ clock });
  assert.equal((await h.publish(exampleApi)).status, 201);
  for (const ws of ['ak-a', 'ak-b']) {
    await createWorkspace(h, ws);
    await install(h, ws, 'example_api');
  }
  tokenA = await workspaceToken(h, 'ak-a');
  tokenB = await workspaceToken(h, 'ak-b');
  keyA = (await createKey('ak-a', 'reporting', '/api/example-api')).key;
  keyB = (await createKey('ak-b', 'reporting', '/api/example-api')).key;
});
after(async () => { await h.close(); });

test('a key is made for a path under /api/ and shown once; the list names it without key or hash; both acts are audited', async () => {
  await clock.set(START + 60_000);
  const res = await h.api('POST', '/api/v1/workspaces/ak-a/api-keys', { name: '  Student records  ', path: '/api/example-api/echo' }, tokenA);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'id', 'key', 'name', 'path']);
  assert.deepEqual([res.body.name, res.body.path, res.body.createdAt], ['Student records', '/api/example-api/echo', '2026-06-01T09:01:00.000Z']);
  assert.ok(typeof res.body.key === 'string' && res.body.key.length >= 30, 'a key long enough not to be guessed');

  const listed = await h.api('GET', '/api/v1/workspaces/ak-a/api-keys', undefined, tokenA);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.equal(listed.body.nextCursor, null);
  assert.deepEqual(listed.body.data.find((k: { id: string }) => k.id === res.body.id),
    { id: res.body.id, name: 'Student records', path: '/api/example-api/echo', createdAt: '2026-06-01T09:01:00.000Z', revokedAt: null });
  const text = JSON.stringify(listed.body);
  for (const secret of [res.body.key, hashToken(res.body.key), keyA, hashToken(keyA)]) assert.ok(!text.includes(secret), 'the list shows no key and no hash');
  assert.ok(listed.body.data.every((k: object) => !('key' in k)));
  // Each workspace lists its own.
  assert.equal((await listKeys('ak-b')).length, 1);

  const audit = (await h.api('GET', '/api/v1/workspaces/ak-a/integration-messages/audit')).body.data;
  const made = audit.find((a: { action: string; detail: { id?: string } }) => a.action === 'create-api-key' && a.detail.id === res.body.id);
  assert.deepEqual(made.detail, { id: res.body.id, name: 'Student records', path: '/api/example-api/echo' });
  assert.match(made.actor, /^workspace:/);
  assert.ok(!JSON.stringify(audit).includes(res.body.key), 'the audit log keeps no key');

  // The key opens its path.
  const ok = await call('ak-a', '/api/example-api/echo', basic(res.body.key));
  assert.equal(ok.status, 200, ok.text);
});

test('only the operator and the workspace\'s own tokens manage its keys', async () => {
  assert.equal((await h.api('GET', '/api/v1/workspaces/ak-a/api-keys', undefined, tokenB)).status, 403);
  assert.equal((await h.api('POST', '/api/v1/workspaces/ak-a/api-keys', { name: 'x', path: '/api/example-api' }, tokenB)).status, 403);
  assert.equal((await h.api('GET', '/api/v1/workspaces/ak-a/api-keys', undefined, null)).status, 401);
  // An API key is no admin token.
  assert.equal((await h.api('GET', '/api/v1/workspaces/ak-a/api-keys', undefined, keyA)).status, 401);
  assert.equal((await h.api('POST', '/api/v1/workspaces/ak-nowhere/api-keys', { name: 'x', path: '/api/example-api' })).body.error.code, 'WORKSPACE_NOT_FOUND');
});

test('bad create input is 400 INVALID_BODY and writes nothing', async () => {
  const before = await listKeys('ak-a');
  const bodies: unknown[] = [
    {}, { name: 'x' }, { path: '/api/example-api' }, { name: '', path: '/api/example-api' }, { name: '   ', path: '/api/example-api' },
    { name: 'x'.repeat(201), path: '/api/example-api' }, { name: 'x', path: '/do/example-api' }, { name: 'x', path: 'api/example-api' },
    { name: 'x', path: '/api' }, { name: 'x', path: '/api/' }, { name: 'x', path: '/api/example-api/' }, { name: 'x', path: '/api//example-api' },
    { name: 'x', path: '/api/../do/example-api' }, { name: 'x', path: '/api/./example-api' }, { name: 'x', path: '/api/example api' },
    { name: 'x', path: `/api/${'a'.repeat(196)}` }, { name: 'x', path: 5 }, { name: 'x', path: '/api/example-api', extra: true }, [], 'a string',
  ];
  for (const body of bodies) {
    const res = await h.api('POST', '/api/v1/workspaces/ak-a/api-keys', typeof body === 'string' ? JSON.stringify(body) : body);
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'INVALID_BODY', JSON.stringify(body));
  }
  const notJson = await h.api('POST', '/api/v1/workspaces/ak-a/api-keys', '{"name": "x", "path"');
  assert.equal(notJson.body.error.code, 'INVALID_JSON');
  // 200 characters is the limit, and fine.
  const longest = `/api/${'a'.repeat(195)}`;
  assert.equal(longest.length, 200);
  const made = await createKey('ak-a', 'longest', longest);
  assert.deepEqual((await listKeys('ak-a')).map((k) => k.id).sort(), [...before.map((k) => k.id), made.id].sort());
});

test('a P.respond /api handler answers a key sent as HTTP Basic haplo:<key> or as a bearer, and never sees the key', async () => {
  const viaBasic = await call('ak-a', '/api/example-api/echo?q=basic', basic(keyA));
  assert.equal(viaBasic.status, 200, viaBasic.text);
  assert.deepEqual([viaBasic.body.q, viaBasic.body.method, viaBasic.body.path], ['basic', 'GET', '/api/example-api/echo']);
  assert.ok(!('authorization' in viaBasic.body.headers), JSON.stringify(viaBasic.body.headers));
  assert.ok(!JSON.stringify(viaBasic.body).includes(keyA));
  const run = (await h.api('GET', `/api/v1/workspaces/ak-a/runs/${viaBasic.headers.get('x-plughost-run')}`)).body;
  assert.deepEqual([run.kind, run.target, run.status], ['route', 'GET /api/example-api/echo', 'succeeded']);

  const viaBearer = await call('ak-a', '/api/example-api/echo', `Bearer ${keyA}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-caller': 'sis' }, body: 'q=form',
  });
  assert.equal(viaBearer.status, 200, viaBearer.text);
  assert.deepEqual([viaBearer.body.q, viaBearer.body.method, viaBearer.body.headers['x-caller']], ['form', 'POST', 'sis']);
  assert.ok(!('authorization' in viaBearer.body.headers));
  assert.ok(!JSON.stringify(viaBearer.body).includes(keyA));
});

test('a wrong key, another Basic user, or none is 401 with a Basic challenge', async () => {
  for (const [what, auth] of [
    ['no credentials', undefined], ['an unknown key', basic('pha_not-a-real-key-0123456789')], ['an unknown bearer', 'Bearer pha_not-a-real-key-0123456789'],
    ['another Basic user', basic(keyA, 'admin')], ['an empty key', basic('')], ['a truncated key', basic(keyA.slice(0, -1))], ['a malformed header', 'Basic !!!'],
  ] as const) {
    assertUnauthorized(await call('ak-a', '/api/example-api/echo', auth), what);
  }
});

test('a key opens its own path and the paths under it only: another root is 403, /api/x does not open /api/xy', async () => {
  assertForbidden(await call('ak-a', '/api/example-api-admin/stats', basic(keyA)), '/api/example-api on /api/example-api-admin');
  const admin = await createKey('ak-a', 'admin', '/api/example-api-admin');
  assert.equal((await call('ak-a', '/api/example-api-admin/stats', basic(admin.key))).status, 200);
  assertForbidden(await call('ak-a', '/api/example-api/echo', basic(admin.key)), '/api/example-api-admin on /api/example-api');
  // A key for one handler's path: that path and below, nothing beside it.
  const echo = await createKey('ak-a', 'echo', '/api/example-api/echo');
  assert.equal((await call('ak-a', '/api/example-api/echo', `Bearer ${echo.key}`)).status, 200);
  assert.equal((await call('ak-a', '/api/example-api/echo/more', `Bearer ${echo.key}`)).status, 200);
  assertForbidden(await call('ak-a', '/api/example-api/echoes', `Bearer ${echo.key}`), '/api/example-api/echo on /api/example-api/echoes');
  assertForbidden(await call('ak-a', '/api/example-api', `Bearer ${echo.key}`), '/api/example-api/echo on its parent');
});

test('a key of another workspace is 403, and each workspace\'s own key works there', async () => {
  assertForbidden(await call('ak-b', '/api/example-api/echo', basic(keyA)), 'ak-a key on ak-b');
  assertForbidden(await call('ak-a', '/api/example-api/echo', `Bearer ${keyB}`), 'ak-b key on ak-a');
  assert.equal((await call('ak-b', '/api/example-api/echo', basic(keyB))).status, 200);
});

test('revoking is DELETE → 204: the key is 401 from then on and listed as revoked; an unknown id is 404 API_KEY_NOT_FOUND', async () => {
  const made = await createKey('ak-a', 'short-lived', '/api/example-api');
  assert.equal((await call('ak-a', '/api/example-api/echo', basic(made.key))).status, 200);
  await clock.set(START + 3_600_000);
  // Not through another workspace's path, nor by its token.
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/ak-b/api-keys/${made.id}`)).body.error.code, 'API_KEY_NOT_FOUND');
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/ak-a/api-keys/${made.id}`, undefined, tokenB)).status, 403);
  assert.equal((await call('ak-a', '/api/example-api/echo', basic(made.key))).status, 200);

  const del = await h.api('DELETE', `/api/v1/workspaces/ak-a/api-keys/${made.id}`, undefined, tokenA);
  assert.equal(del.status, 204, JSON.stringify(del.body));
  assertUnauthorized(await call('ak-a', '/api/example-api/echo', basic(made.key)), 'revoked, Basic');
  assertUnauthorized(await call('ak-a', '/api/example-api/echo', `Bearer ${made.key}`), 'revoked, bearer');
  const listed = (await listKeys('ak-a')).find((k) => k.id === made.id);
  assert.equal(listed?.revokedAt, '2026-06-01T10:00:00.000Z');
  // Revoking again changes nothing; the other keys still work.
  await clock.set(START + 7_200_000);
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/ak-a/api-keys/${made.id}`)).status, 204);
  assert.equal((await listKeys('ak-a')).find((k) => k.id === made.id)?.revokedAt, '2026-06-01T10:00:00.000Z');
  assert.equal((await call('ak-a', '/api/example-api/echo', basic(keyA))).status, 200);
  const audit = (await h.api('GET', '/api/v1/workspaces/ak-a/integration-messages/audit')).body.data;
  assert.ok(audit.some((a: { action: string; detail: { id?: string } }) => a.action === 'revoke-api-key' && a.detail.id === made.id));

  const unknown = await h.api('DELETE', '/api/v1/workspaces/ak-a/api-keys/ak_nothing');
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  assert.equal(unknown.body.error.code, 'API_KEY_NOT_FOUND');
});

test('operator and workspace tokens still open /api; /do takes tokens only, never an API key', async () => {
  assert.equal((await call('ak-a', '/api/example-api/echo', `Bearer ${h.operatorToken}`)).status, 200);
  const own = await call('ak-a', '/api/example-api/echo', `Bearer ${tokenA}`);
  assert.equal(own.status, 200, own.text);
  assert.ok(!('authorization' in own.body.headers));
  assertForbidden(await call('ak-a', '/api/example-api/echo', `Bearer ${tokenB}`), 'a token of another workspace');

  assert.equal((await call('ak-a', '/do/example-api/page', `Bearer ${tokenA}`)).text, 'page');
  for (const [what, auth] of [['bearer', `Bearer ${keyA}`], ['Basic', basic(keyA)]] as const) {
    const res = await call('ak-a', '/do/example-api/page', auth);
    assert.equal(res.status, 401, `${what}: ${res.text}`);
    assert.equal(res.body.error.code, 'UNAUTHORIZED');
  }
  // Even a key made for all of a plugin's /api paths opens nothing under /do.
  assert.equal((await call('ak-a', '/do/example-api/page', basic(keyA))).status, 401);
});

test('the native poll API answers while no installation of the workspace claims its root, and steps aside for one that does', async () => {
  await publishPlugin(h, { name: 'ak-queues', namespace: 'queues', main: SEED_DISCOVER });
  assert.equal((await h.publish(ownPoll)).status, 201);
  const pollKeys: Record<string, string> = {};
  for (const ws of ['ak-a', 'ak-b']) {
    await install(h, ws, 'ak-queues');
    const res = await h.api('POST', `/api/v1/workspaces/${ws}/integration-messages/student/keys`);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    pollKeys[ws] = res.body.key;
  }
  const fetchPath = '/api/haplo-integration-messages/poll/student/fetch';
  const native = await call('ak-a', fetchPath, basic(pollKeys['ak-a']!));
  assert.equal(native.status, 200, native.text);
  assert.deepEqual(native.body.messages, []);
  // An API key is no poll key.
  const apiKey = (await createKey('ak-a', 'own poll', '/api/haplo-integration-messages')).key;
  assert.equal((await call('ak-a', fetchPath, basic(apiKey))).status, 401);

  const installed = await install(h, 'ak-a', 'example_own_poll');
  const served = await call('ak-a', fetchPath, basic(apiKey));
  assert.equal(served.status, 200, served.text);
  assert.deepEqual(served.body, { servedBy: 'example_own_poll', group: 'student', action: 'fetch' });
  // The plugin's path takes API keys, not the host's poll keys.
  assertUnauthorized(await call('ak-a', fetchPath, basic(pollKeys['ak-a']!)), 'a poll key on the plugin\'s path');
  // Another workspace keeps the native poll API.
  const other = await call('ak-b', fetchPath, basic(pollKeys['ak-b']!));
  assert.equal(other.status, 200, other.text);
  assert.deepEqual(other.body.messages, []);

  assert.equal((await h.api('DELETE', `/api/v1/workspaces/ak-a/installations/${installed}`)).status, 204);
  const back = await call('ak-a', fetchPath, basic(pollKeys['ak-a']!));
  assert.equal(back.status, 200, back.text);
  assert.deepEqual(back.body.messages, []);
});
