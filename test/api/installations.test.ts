// Installations over the admin API (SPEC section 7): install the latest or a chosen version,
// namespace clashes, iparams validation, write-only secure iparams (never answered, sealed at
// rest, opened only for the plugin), PATCH active/version/iparams, uninstall, and malformed
// or misdirected requests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import {
  answering, assertError, callRoute, createWorkspace, databaseFilesContain, detailsByPath, installOk, publishOk, send,
} from './fixtures/api.ts';

const SECRET = 'sk_live_super-secret-value-4242';
const OTHER_SECRET = 'sk_live_rotated-secret-9191';

const iparams = {
  greeting: { type: 'text', required: true },
  count: { type: 'number', default: 3 },
  apiKey: { type: 'password', secure: true, required: true },
};

function greeter(version: string, answer: string, extra: Record<string, unknown> = {}) {
  return {
    'plugin.json': { name: 'greeter', version, namespace: 'greet', services: [{ route: 'hi', main: 'plugin.js' }], iparams, ...extra },
    'plugin.js': answering(answer),
  };
}

let h: TestHost;

before(async () => {
  h = await startHost();
  await createWorkspace(h, 'a');
  await createWorkspace(h, 'b');
  await createWorkspace(h, 'c');
  await publishOk(h, greeter('1.0.0', 'v1'));
  await publishOk(h, greeter('2.0.0', 'v2'));
  // Another plugin that wants the same namespace.
  await publishOk(h, { 'plugin.json': { name: 'squatter', version: '1.0.0', namespace: 'greet', services: [{ route: 'hi' }] }, 'plugin.js': answering('squat') });
  // A newer version under another namespace: cannot be an upgrade in place.
  await publishOk(h, greeter('3.0.0', 'v3', { namespace: 'greet3' }));
});
after(async () => {
  await h.close();
});

const good = { greeting: 'Hello', apiKey: SECRET };

/** Asserts that an installation as answered by the API shows the secure iparam by name only. */
function assertRedacted(view: any): void {
  const text = JSON.stringify(view);
  assert.ok(!text.includes(SECRET), `the secure iparam leaked: ${text}`);
  assert.ok(!text.includes(OTHER_SECRET), `the secure iparam leaked: ${text}`);
  assert.ok(!Object.hasOwn(view.iparams, 'apiKey'), text);
  assert.deepEqual(view.secureIparamsSet, ['apiKey']);
}

test('install without a version takes the latest; a chosen version is installed as asked', async () => {
  // 3.0.0 is newest, under another namespace.
  const latest = await installOk(h, 'a', { plugin: 'greeter', iparams: good });
  assert.equal(latest.version, '3.0.0');
  assert.equal(latest.namespace, 'greet3');
  assert.equal(latest.active, true);
  assert.equal(latest.plugin, 'greeter');
  assert.equal(latest.workspaceId, 'a');
  assert.match(latest.id, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(latest.iparams, { greeting: 'Hello', count: 3 }, 'the default of count applies');
  assertRedacted(latest);
  assert.deepEqual(await (await callRoute(h, '/workspaces/a/greet3/hi')).body, { answer: 'v3' });

  const chosen = await installOk(h, 'a', { plugin: 'greeter', version: '1.0.0', iparams: { ...good, count: 7 } });
  assert.equal(chosen.version, '1.0.0');
  assert.equal(chosen.namespace, 'greet');
  assert.deepEqual(chosen.iparams, { greeting: 'Hello', count: 7 });
  assertRedacted(chosen);
  assert.deepEqual(chosen.routes, [{ route: 'hi', access: 'public', path: '/workspaces/a/greet/hi' }]);
  const res = await callRoute(h, '/workspaces/a/greet/hi');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { answer: 'v1' });

  // Installed inactive: stored, but its route is not served.
  const inactive = await installOk(h, 'c', { plugin: 'greeter', version: '2.0.0', iparams: good, active: false });
  assert.equal(inactive.active, false);
  assertError(await callRoute(h, '/workspaces/c/greet/hi'), 404, 'ROUTE_NOT_FOUND');
});

test('a namespace already used in the workspace is 409 NAMESPACE_TAKEN', async () => {
  const before = (await h.api('GET', '/api/v1/workspaces/a/installations')).body;
  assertError(await h.api('POST', '/api/v1/workspaces/a/installations', { plugin: 'greeter', version: '2.0.0', iparams: good }), 409, 'NAMESPACE_TAKEN');
  const other = await h.api('POST', '/api/v1/workspaces/a/installations', { plugin: 'squatter' });
  assertError(other, 409, 'NAMESPACE_TAKEN', { details: false });
  assert.match(other.body.error.message, /greet/);
  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/a/installations')).body, before);
  // The same namespace in another workspace is fine.
  const elsewhere = await installOk(h, 'b', { plugin: 'squatter' });
  assert.equal(elsewhere.namespace, 'greet');
  await h.api('DELETE', `/api/v1/workspaces/b/installations/${elsewhere.id}`);
});

test('iparams are validated: 422 INVALID_IPARAMS lists missing, mistyped and unknown ones', async () => {
  const before = (await h.api('GET', '/api/v1/workspaces/b/installations')).body;
  const all = await h.api('POST', '/api/v1/workspaces/b/installations', { plugin: 'greeter', version: '1.0.0', iparams: { count: 'three', colour: 'red' } });
  assertError(all, 422, 'INVALID_IPARAMS', { details: true });
  const details = detailsByPath(all.body);
  assert.deepEqual([...details.keys()].sort(), ['iparams.apiKey', 'iparams.colour', 'iparams.count', 'iparams.greeting']);
  assert.match(details.get('iparams.greeting')!, /required/);
  assert.match(details.get('iparams.apiKey')!, /required/);
  assert.match(details.get('iparams.count')!, /number/);
  assert.match(details.get('iparams.colour')!, /not declared/);

  const cases: Array<[Record<string, unknown> | undefined, string[]]> = [
    [undefined, ['iparams.apiKey', 'iparams.greeting']],
    [{ greeting: 'Hi' }, ['iparams.apiKey']],
    [{ greeting: '', apiKey: SECRET }, ['iparams.greeting']],
    [{ greeting: 5, apiKey: SECRET }, ['iparams.greeting']],
    [{ greeting: 'Hi', apiKey: { nested: true } }, ['iparams.apiKey']],
    [{ ...good, count: Number.MAX_VALUE, extra: 1 }, ['iparams.extra']],
  ];
  for (const [given, paths] of cases) {
    const res = await h.api('POST', '/api/v1/workspaces/b/installations', { plugin: 'greeter', version: '1.0.0', ...(given ? { iparams: given } : {}) });
    assertError(res, 422, 'INVALID_IPARAMS', { details: true });
    assert.deepEqual([...detailsByPath(res.body).keys()].sort(), paths, JSON.stringify(res.body));
    assert.ok(!JSON.stringify(res.body).includes(SECRET), 'a refusal must not echo a secure value');
  }
  // iparams must be an object.
  assertError(await h.api('POST', '/api/v1/workspaces/b/installations', { plugin: 'greeter', iparams: ['x'] }), 400, 'INVALID_BODY');
  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/b/installations')).body, before, 'nothing installed');
});

test('secure iparams are never answered, are sealed at rest, and open only for the plugin', async () => {
  const inst = await installOk(h, 'b', { plugin: 'greeter', version: '1.0.0', iparams: good });
  assertRedacted(inst);
  assertRedacted((await h.api('GET', `/api/v1/workspaces/b/installations/${inst.id}`)).body);
  const list = await h.api('GET', '/api/v1/workspaces/b/installations');
  assert.equal(list.body.data.length, 1);
  assertRedacted(list.body.data[0]);
  const patched = await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { iparams: { greeting: 'Howdy' } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assertRedacted(patched.body);
  assert.equal(patched.body.iparams.greeting, 'Howdy');

  // At rest: the row holds a sealed value, never the clear text.
  const rows: Array<Record<string, unknown>> = await h.host.store.db('installations').where({ id: inst.id });
  assert.equal(rows.length, 1);
  const row = rows[0]!;
  assert.equal(typeof row.secure_iparams, 'string');
  assert.ok(String(row.secure_iparams).length > 20);
  assert.ok(!String(row.secure_iparams).includes(SECRET));
  assert.ok(!String(row.secure_iparams).includes('apiKey'), 'even the names are inside the sealed value');
  assert.ok(!JSON.stringify(row).includes(SECRET));
  assert.deepEqual(JSON.parse(String(row.iparams)), { greeting: 'Howdy', count: 3 });
  const everyRow = JSON.stringify(await h.host.store.db('installations').select('*'));
  assert.ok(!everyRow.includes(SECRET), 'no installation row holds the clear secure value');
  assert.notEqual(databaseFilesContain(h, SECRET), true, 'the clear secure value is in the database files');

  // What the plugin is given: the value, opened.
  const stored = await h.host.store.installations.require('b', inst.id);
  const forPlugin = await h.host.installations.toSandboxPlugin(stored);
  assert.deepEqual(forPlugin.iparams, { greeting: 'Howdy', count: 3, apiKey: SECRET });

  // Rotating it re-seals; the old value is gone.
  const rotated = await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { iparams: { apiKey: OTHER_SECRET } });
  assert.equal(rotated.status, 200);
  assertRedacted(rotated.body);
  const after = await h.host.store.installations.require('b', inst.id);
  assert.notEqual(after.secureIparams, stored.secureIparams);
  assert.equal((await h.host.installations.toSandboxPlugin(after)).iparams.apiKey, OTHER_SECRET);
  assert.ok(!JSON.stringify(await h.host.store.db('installations').select('*')).includes(OTHER_SECRET));

  // A required secure value cannot be cleared.
  const cleared = await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { iparams: { apiKey: null } });
  assertError(cleared, 422, 'INVALID_IPARAMS', { details: true });
  assert.equal((await h.host.installations.toSandboxPlugin(await h.host.store.installations.require('b', inst.id))).iparams.apiKey, OTHER_SECRET);
});

test('PATCH active:false takes the route away; active:true brings it back', async () => {
  const inst = (await h.api('GET', '/api/v1/workspaces/b/installations')).body.data[0];
  assert.deepEqual((await callRoute(h, '/workspaces/b/greet/hi')).body, { answer: 'v1' });
  const off = await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { active: false });
  assert.equal(off.status, 200);
  assert.equal(off.body.active, false);
  assertError(await callRoute(h, '/workspaces/b/greet/hi'), 404, 'ROUTE_NOT_FOUND');
  assertError(await callRoute(h, '/workspaces/b/greet/hi', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }), 404, 'ROUTE_NOT_FOUND');
  assert.equal((await h.api('GET', `/api/v1/workspaces/b/installations/${inst.id}`)).body.active, false);
  const on = await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { active: true });
  assert.equal(on.status, 200);
  assert.equal(on.body.active, true);
  const back = await callRoute(h, '/workspaces/b/greet/hi');
  assert.equal(back.status, 200);
  assert.deepEqual(back.body, { answer: 'v1' });
});

test('PATCH version upgrades at once and keeps the iparams', async () => {
  const inst = (await h.api('GET', '/api/v1/workspaces/b/installations')).body.data[0];
  assert.deepEqual((await callRoute(h, '/workspaces/b/greet/hi')).body, { answer: 'v1' });
  const up = await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { version: '2.0.0' });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal(up.body.version, '2.0.0');
  assert.equal(up.body.id, inst.id);
  assert.deepEqual(up.body.iparams, inst.iparams);
  assertRedacted(up.body);
  const res = await callRoute(h, '/workspaces/b/greet/hi');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { answer: 'v2' }, 'the route answers with the new code at once');
  const stored = await h.host.store.installations.require('b', inst.id);
  assert.equal((await h.host.installations.toSandboxPlugin(stored)).iparams.apiKey, OTHER_SECRET);

  // Back down works the same way.
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { version: '1.0.0' })).body.version, '1.0.0');
  assert.deepEqual((await callRoute(h, '/workspaces/b/greet/hi')).body, { answer: 'v1' });

  // Refused changes leave it as it was.
  assertError(await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { version: '9.9.9' }), 404, 'PLUGIN_NOT_FOUND');
  const moved = await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { version: '3.0.0' });
  assertError(moved, 400, 'INVALID_BODY');
  assert.match(moved.body.error.message, /namespace/);
  assertError(await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { iparams: { count: 'many' } }), 422, 'INVALID_IPARAMS', { details: true });
  const now = (await h.api('GET', `/api/v1/workspaces/b/installations/${inst.id}`)).body;
  assert.equal(now.version, '1.0.0');
  assert.deepEqual(now.iparams, inst.iparams);
  assert.deepEqual((await callRoute(h, '/workspaces/b/greet/hi')).body, { answer: 'v1' });
});

test('DELETE uninstalls: the route and the installation are gone', async () => {
  const inst = (await h.api('GET', '/api/v1/workspaces/b/installations')).body.data[0];
  const del = await h.api('DELETE', `/api/v1/workspaces/b/installations/${inst.id}`);
  assert.equal(del.status, 204);
  assert.equal(del.body, undefined);
  assertError(await callRoute(h, '/workspaces/b/greet/hi'), 404, 'ROUTE_NOT_FOUND');
  assertError(await h.api('GET', `/api/v1/workspaces/b/installations/${inst.id}`), 404, 'INSTALLATION_NOT_FOUND', { details: false });
  assertError(await h.api('PATCH', `/api/v1/workspaces/b/installations/${inst.id}`, { active: true }), 404, 'INSTALLATION_NOT_FOUND');
  assertError(await h.api('DELETE', `/api/v1/workspaces/b/installations/${inst.id}`), 404, 'INSTALLATION_NOT_FOUND');
  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/b/installations')).body.data, []);
  assert.equal((await h.host.store.db('installations').where({ id: inst.id })).length, 0);
  // The namespace is free again.
  const again = await installOk(h, 'b', { plugin: 'squatter' });
  assert.deepEqual((await callRoute(h, '/workspaces/b/greet/hi')).body, { answer: 'squat' });
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/b/installations/${again.id}`)).status, 204);
});

test('an installation of one workspace is not found through another', async () => {
  const inA = (await h.api('GET', '/api/v1/workspaces/a/installations')).body.data[0];
  assertError(await h.api('GET', `/api/v1/workspaces/b/installations/${inA.id}`), 404, 'INSTALLATION_NOT_FOUND');
  assertError(await h.api('PATCH', `/api/v1/workspaces/b/installations/${inA.id}`, { active: false }), 404, 'INSTALLATION_NOT_FOUND');
  assertError(await h.api('DELETE', `/api/v1/workspaces/b/installations/${inA.id}`), 404, 'INSTALLATION_NOT_FOUND');
  assert.equal((await h.api('GET', `/api/v1/workspaces/a/installations/${inA.id}`)).body.active, true);
});

test('installing into an unknown workspace, or an unknown plugin or version, is 404', async () => {
  assertError(await h.api('POST', '/api/v1/workspaces/ghost/installations', { plugin: 'greeter', iparams: good }), 404, 'WORKSPACE_NOT_FOUND', { details: false });
  assertError(await h.api('GET', '/api/v1/workspaces/ghost/installations/inst_x'), 404, 'INSTALLATION_NOT_FOUND');
  assertError(await h.api('POST', '/api/v1/workspaces/c/installations', { plugin: 'nope' }), 404, 'PLUGIN_NOT_FOUND', { details: false });
  assertError(await h.api('POST', '/api/v1/workspaces/c/installations', { plugin: 'greeter', version: '4.0.0', iparams: good }), 404, 'PLUGIN_NOT_FOUND');
  assert.equal((await h.host.store.db('installations').where({ workspace_id: 'ghost' })).length, 0);
});

test('malformed bodies: not JSON 400 INVALID_JSON, unknown or missing fields 400 INVALID_BODY, text/plain 415', async () => {
  const path = '/api/v1/workspaces/c/installations';
  const before = (await h.api('GET', path)).body;
  const json = { 'content-type': 'application/json' };
  assertError(await send(h, 'POST', path, { body: '{"plugin": "greeter"', headers: json }), 400, 'INVALID_JSON', { details: false });
  assertError(await send(h, 'POST', path, { body: 'plugin=greeter', headers: json }), 400, 'INVALID_JSON');
  const unknown = await h.api('POST', path, { plugin: 'greeter', iparams: good, colour: 'red' });
  assertError(unknown, 400, 'INVALID_BODY', { details: true });
  assert.match(unknown.body.error.message, /colour/);
  const missing = await h.api('POST', path, { version: '1.0.0' });
  assertError(missing, 400, 'INVALID_BODY', { details: true });
  assert.deepEqual([...detailsByPath(missing.body).keys()], ['plugin']);
  const mistyped = await h.api('POST', path, { plugin: 'greeter', version: 2, active: 'yes' });
  assertError(mistyped, 400, 'INVALID_BODY', { details: true });
  assert.deepEqual([...detailsByPath(mistyped.body).keys()].sort(), ['active', 'version']);
  assertError(await h.api('POST', path, '[]'), 400, 'INVALID_BODY');
  assertError(await send(h, 'POST', path, { body: JSON.stringify({ plugin: 'greeter' }), headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE', { details: false });
  assertError(await send(h, 'POST', path, { body: JSON.stringify({ plugin: 'greeter' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');

  // PATCH takes the same care.
  const inst = (await h.api('GET', path)).body.data[0];
  assertError(await send(h, 'PATCH', `${path}/${inst.id}`, { body: '{', headers: json }), 400, 'INVALID_JSON');
  assertError(await h.api('PATCH', `${path}/${inst.id}`, { plugin: 'squatter' }), 400, 'INVALID_BODY', { details: true });
  assertError(await h.api('PATCH', `${path}/${inst.id}`, { active: 'no' }), 400, 'INVALID_BODY', { details: true });
  assertError(await send(h, 'PATCH', `${path}/${inst.id}`, { body: '{"active":true}', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  assert.deepEqual((await h.api('GET', path)).body, before, 'nothing changed');
});
