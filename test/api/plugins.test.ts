// Publishing plugins over the admin API (SPEC sections 2 and 7): zip and tar.gz uploads,
// immutable versions, folder-wrapped zips, the registry listing (versions newest first),
// and every refusal: wrong media type, oversized, unreadable or unsafe archives, bad
// manifests listed by field path. After each refusal nothing at all was stored.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import {
  answering, assertError, createWorkspace, detailsByPath, installOk, manifest, rawJson, rawRequest, routePlugin, storedVersions,
  tarGzOf, upload, zipOf, type Answer,
} from './fixtures/api.ts';

let h: TestHost;

before(async () => {
  h = await startHost();
  await createWorkspace(h, 'ws');
});
after(async () => {
  await h.close();
});

/** Asserts a refused publish: the error, then that neither the registry nor the table changed. */
async function refused(res: Answer | { status: number; body: any; headers: any }, status: number, code: string, opts: { details?: boolean } = {}): Promise<void> {
  assertError(res, status, code, opts);
  const registry = await h.api('GET', '/api/v1/plugins?limit=200');
  assert.deepEqual(registry.body, snapshot.registry, `the registry changed after a refused publish (${code})`);
  assert.deepEqual(await storedVersions(h), snapshot.rows, `plugin_versions changed after a refused publish (${code})`);
}

const snapshot: { registry: unknown; rows: string[] } = { registry: undefined, rows: [] };
async function takeSnapshot(): Promise<void> {
  snapshot.registry = (await h.api('GET', '/api/v1/plugins?limit=200')).body;
  snapshot.rows = await storedVersions(h);
}

test('a zip and a tar.gz are published: 201 {name, version}', async () => {
  const zipped = await upload(h, zipOf(routePlugin({ name: 'zipped', namespace: 'zipped' }, 'from zip')), 'application/zip');
  assert.equal(zipped.status, 201, JSON.stringify(zipped.body));
  assert.equal(zipped.body.name, 'zipped');
  assert.equal(zipped.body.version, '1.0.0');
  assert.equal(zipped.headers.get('cache-control'), 'no-store');

  const tarred = await upload(h, await tarGzOf(routePlugin({ name: 'tarred', namespace: 'tarred' }, 'from tar')), 'application/gzip');
  assert.equal(tarred.status, 201, JSON.stringify(tarred.body));
  assert.equal(tarred.body.name, 'tarred');
  assert.equal(tarred.body.version, '1.0.0');

  // The other spellings of the two media types, with parameters.
  const alt = await upload(h, zipOf(routePlugin({ name: 'alt-zip', namespace: 'altzip' })), 'application/x-zip-compressed');
  assert.equal(alt.status, 201, JSON.stringify(alt.body));
  const altGz = await upload(h, await tarGzOf(routePlugin({ name: 'alt-gz', namespace: 'altgz' })), 'application/x-gzip; charset=binary');
  assert.equal(altGz.status, 201, JSON.stringify(altGz.body));

  assert.deepEqual(await storedVersions(h), ['alt-gz@1.0.0', 'alt-zip@1.0.0', 'tarred@1.0.0', 'zipped@1.0.0']);
  // Both run once installed.
  await installOk(h, 'ws', { plugin: 'zipped' });
  await installOk(h, 'ws', { plugin: 'tarred' });
  assert.deepEqual(await (await fetch(`${h.url}/workspaces/ws/zipped/hello`)).json(), { answer: 'from zip' });
  assert.deepEqual(await (await fetch(`${h.url}/workspaces/ws/tarred/hello`)).json(), { answer: 'from tar' });
});

test('publishing the same name and version again is 409 VERSION_EXISTS, whatever the content', async () => {
  await takeSnapshot();
  await refused(await upload(h, zipOf(routePlugin({ name: 'zipped', namespace: 'zipped' }, 'changed!')), 'application/zip'), 409, 'VERSION_EXISTS');
  await refused(await upload(h, await tarGzOf(routePlugin({ name: 'zipped', namespace: 'zipped' }, 'changed!')), 'application/gzip'), 409, 'VERSION_EXISTS');
  const res = await upload(h, await tarGzOf(routePlugin({ name: 'tarred', namespace: 'other-ns', displayName: 'New' })), 'application/gzip');
  await refused(res, 409, 'VERSION_EXISTS');
  assert.match(res.body.error.message, /tarred@1\.0\.0/);
  // The published code is untouched.
  const files = await h.host.store.pluginVersions.files('zipped', '1.0.0');
  assert.equal(Buffer.from(files.get('plugin.js')!).toString('utf8'), answering('from zip'));
  assert.deepEqual(await (await fetch(`${h.url}/workspaces/ws/zipped/hello`)).json(), { answer: 'from zip' });
});

test('a zip of the plugin folder itself (every file under one folder) is published', async () => {
  const files = routePlugin({ name: 'wrapped', namespace: 'wrapped' }, 'wrapped');
  const wrapped = zipOf({ 'my-plugin/': new Uint8Array(), ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`my-plugin/${k}`, v])) });
  const res = await upload(h, wrapped, 'application/zip');
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual([res.body.name, res.body.version], ['wrapped', '1.0.0']);
  const stored = await h.host.store.pluginVersions.files('wrapped', '1.0.0');
  assert.deepEqual([...stored.keys()].sort(), ['plugin.js', 'plugin.json']);
  await installOk(h, 'ws', { plugin: 'wrapped' });
  assert.deepEqual(await (await fetch(`${h.url}/workspaces/ws/wrapped/hello`)).json(), { answer: 'wrapped' });
});

test('the registry lists plugins, and a plugin its versions newest first', async () => {
  for (const version of ['1.2.0', '0.9.0', '1.10.0', '1.0.0', '1.9.3']) {
    const res = await upload(h, await tarGzOf(routePlugin({ name: 'multi', namespace: 'multi', version, displayName: `Multi ${version}` })), 'application/gzip');
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const one = await h.api('GET', '/api/v1/plugins/multi');
  assert.equal(one.status, 200);
  assert.equal(one.body.name, 'multi');
  assert.equal(one.body.latestVersion, '1.10.0');
  assert.deepEqual(one.body.versions.map((v: { version: string }) => v.version), ['1.10.0', '1.9.3', '1.2.0', '1.0.0', '0.9.0']);
  const newest = one.body.versions[0];
  assert.equal(newest.manifest.displayName, 'Multi 1.10.0');
  assert.equal(newest.manifest.namespace, 'multi');
  assert.equal(typeof newest.sizeBytes, 'number');
  assert.ok(newest.sizeBytes > 0);
  assert.ok(!Number.isNaN(Date.parse(newest.createdAt)));

  const list = await h.api('GET', '/api/v1/plugins');
  assert.equal(list.status, 200);
  const names = list.body.data.map((p: { name: string }) => p.name);
  assert.deepEqual(names, ['alt-gz', 'alt-zip', 'multi', 'tarred', 'wrapped', 'zipped']);
  const multi = list.body.data.find((p: { name: string }) => p.name === 'multi');
  assert.equal(multi.latestVersion, '1.10.0');
  assert.equal(multi.versions, 5);
  assert.equal(multi.displayName, 'Multi 1.10.0');
  assert.equal(list.body.nextCursor, null);

  // Paged by name.
  const first = await h.api('GET', '/api/v1/plugins?limit=4');
  assert.deepEqual(first.body.data.map((p: { name: string }) => p.name), names.slice(0, 4));
  const rest = await h.api('GET', `/api/v1/plugins?limit=4&cursor=${first.body.nextCursor}`);
  assert.deepEqual(rest.body.data.map((p: { name: string }) => p.name), names.slice(4));
  assert.equal(rest.body.nextCursor, null);
  assertError(await h.api('GET', '/api/v1/plugins?limit=0'), 400, 'INVALID_QUERY');
});

test('an unknown plugin is 404 PLUGIN_NOT_FOUND', async () => {
  const res = await h.api('GET', '/api/v1/plugins/never-published');
  assertError(res, 404, 'PLUGIN_NOT_FOUND', { details: false });
  assert.match(res.body.error.message, /never-published/);
});

test('a body that is not sent as a zip or gzip is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
  await takeSnapshot();
  const good = await tarGzOf(routePlugin({ name: 'typed', namespace: 'typed' }));
  await refused(await upload(h, good, 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await refused(await upload(h, good, 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await refused(await upload(h, good, 'application/octet-stream'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await refused(await upload(h, good, 'multipart/form-data; boundary=x'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await refused(await upload(h, good, null), 415, 'UNSUPPORTED_MEDIA_TYPE');
  await refused(await upload(h, good, 'application/'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  // The right media type with the other format's bytes is an unreadable archive.
  await refused(await upload(h, good, 'application/zip'), 400, 'INVALID_ARCHIVE');
  await refused(await upload(h, zipOf(routePlugin({ name: 'typed', namespace: 'typed' })), 'application/gzip'), 400, 'INVALID_ARCHIVE');
});

test('a package over 5 MiB is 413 PACKAGE_TOO_LARGE, declared or streamed', async () => {
  await takeSnapshot();
  const sixMiB = new Uint8Array(6 * 1024 * 1024);
  await refused(await upload(h, sixMiB, 'application/gzip'), 413, 'PACKAGE_TOO_LARGE');
  await refused(await upload(h, sixMiB, 'application/zip'), 413, 'PACKAGE_TOO_LARGE');
  // Sent chunked, with no length: the host stops reading past the limit and answers.
  const streamed = await rawRequest(h.url, {
    method: 'POST', path: '/api/v1/plugins', end: false, body: Buffer.from(sixMiB),
    headers: { authorization: `Bearer ${h.operatorToken}`, 'content-type': 'application/gzip', 'transfer-encoding': 'chunked' },
  });
  await refused(rawJson(streamed), 413, 'PACKAGE_TOO_LARGE');
  // Just under the limit is read (and then refused for what it is: not an archive).
  await refused(await upload(h, new Uint8Array(5 * 1024 * 1024), 'application/gzip'), 400, 'INVALID_ARCHIVE');
});

test('garbage, truncated or unsafe archives are 400 INVALID_ARCHIVE', async () => {
  await takeSnapshot();
  const files = routePlugin({ name: 'broken', namespace: 'broken' });
  const tgz = await tarGzOf(files);
  const zip = zipOf(files);
  await refused(await upload(h, 'these are not the bytes you are looking for', 'application/zip'), 400, 'INVALID_ARCHIVE');
  await refused(await upload(h, new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7]), 'application/gzip'), 400, 'INVALID_ARCHIVE');
  await refused(await upload(h, new Uint8Array(), 'application/gzip'), 400, 'INVALID_ARCHIVE');
  await refused(await upload(h, tgz.slice(0, Math.floor(tgz.length / 2)), 'application/gzip'), 400, 'INVALID_ARCHIVE');
  await refused(await upload(h, zip.slice(0, zip.length - 30), 'application/zip'), 400, 'INVALID_ARCHIVE');
  await refused(await upload(h, zip.slice(0, 40), 'application/zip'), 400, 'INVALID_ARCHIVE');

  for (const evil of ['../evil.js', 'lib/../../evil.js', '/etc/evil.js']) {
    const withEvil = { ...files, [evil]: 'module.exports = "escaped";' };
    const asZip = await upload(h, zipOf(withEvil), 'application/zip');
    await refused(asZip, 400, 'INVALID_ARCHIVE', { details: true });
    assert.deepEqual([...detailsByPath(asZip.body).keys()], [evil], JSON.stringify(asZip.body));
    const asTar = await upload(h, await tarGzOf(withEvil), 'application/gzip');
    await refused(asTar, 400, 'INVALID_ARCHIVE', { details: true });
    assert.match(asTar.body.error.message, /evil\.js/);
  }
});

test('a manifest with several mistakes is 422 INVALID_MANIFEST listing each by field path', async () => {
  await takeSnapshot();
  const res = await upload(h, await tarGzOf({
    'plugin.json': {
      name: 'Bad Name!', version: 'one', namespace: 'ok-ns',
      services: [{ route: 'has space', main: 'plugin.js', access: 'everyone' }, { route: 'fine', main: 'lib/plugin.ts' }],
      iparams: { token: { type: 'colour' } },
      permissions: { hosts: ['https://chat.example.com'] },
      limits: { timeoutMs: 5, memoryMb: 'lots' },
      events: { scheduled: { handler: 'run' } },
    },
    'plugin.js': answering('never'),
  }), 'application/gzip');
  await refused(res, 422, 'INVALID_MANIFEST', { details: true });
  const details = detailsByPath(res.body);
  assert.deepEqual([...details.keys()].sort(), [
    'events.scheduled',
    'iparams.token.type',
    'limits.memoryMb',
    'limits.timeoutMs',
    'name',
    'permissions.hosts[0]',
    'services[0].access',
    'services[0].route',
    'services[1].main',
    'version',
  ].sort(), JSON.stringify(res.body.error.details, null, 1));
  for (const [path, message] of details) assert.ok(message.length > 0, path);
  assert.match(res.body.error.message, /10 problems/);

  // A manifest that is not JSON, or not an object.
  const notJson = await upload(h, await tarGzOf({ 'plugin.json': '{"name": "x",', 'plugin.js': '' }), 'application/gzip');
  await refused(notJson, 422, 'INVALID_MANIFEST', { details: true });
  await refused(await upload(h, await tarGzOf({ 'plugin.json': '[]', 'plugin.js': '' }), 'application/gzip'), 422, 'INVALID_MANIFEST', { details: true });
  // Required fields missing.
  const empty = await upload(h, await tarGzOf({ 'plugin.json': {}, 'plugin.js': '' }), 'application/gzip');
  await refused(empty, 422, 'INVALID_MANIFEST', { details: true });
  assert.deepEqual([...detailsByPath(empty.body).keys()].sort(), ['name', 'namespace', 'version']);
});

test('a package without plugin.json at its root is refused', async () => {
  await takeSnapshot();
  const res = await upload(h, await tarGzOf({ 'plugin.js': answering('x'), 'lib/plugin.json': manifest() }), 'application/gzip');
  await refused(res, 400, 'INVALID_ARCHIVE');
  assert.match(res.body.error.message, /plugin\.json/);
  await refused(await upload(h, zipOf({ 'plugin.js': answering('x') }), 'application/zip'), 400, 'INVALID_ARCHIVE');
});

test('the reserved namespaces api and admin are refused by field path', async () => {
  await takeSnapshot();
  for (const namespace of ['api', 'admin']) {
    const res = await upload(h, await tarGzOf(routePlugin({ name: `ns-${namespace}`, namespace })), 'application/gzip');
    await refused(res, 422, 'INVALID_MANIFEST', { details: true });
    assert.deepEqual([...detailsByPath(res.body).keys()], ['namespace']);
    assert.match(detailsByPath(res.body).get('namespace')!, /reserved/);
  }
});

test('a main file that is not in the package is refused by field path', async () => {
  await takeSnapshot();
  const svc = await upload(h, await tarGzOf({ 'plugin.json': manifest({ name: 'no-main', services: [{ route: 'hello', main: 'server.js' }] }), 'plugin.js': answering('x') }), 'application/gzip');
  await refused(svc, 422, 'INVALID_MANIFEST', { details: true });
  assert.deepEqual([...detailsByPath(svc.body).keys()], ['services[0].main']);
  assert.match(detailsByPath(svc.body).get('services[0].main')!, /server\.js/);

  const top = await upload(h, await tarGzOf({ 'plugin.json': manifest({ name: 'no-main', main: 'lib/events.js' }), 'plugin.js': answering('x') }), 'application/gzip');
  await refused(top, 422, 'INVALID_MANIFEST', { details: true });
  assert.deepEqual([...detailsByPath(top.body).keys()], ['main']);
});

test('a service without main defaults to plugin.js, which must then be in the package', async () => {
  await takeSnapshot();
  // The default service module is plugin.js: leaving it out of the package is refused too.
  const implicit = await upload(h, zipOf({ 'plugin.json': { name: 'no-main', version: '1.0.0', namespace: 'nomain', services: [{ route: 'hello' }] }, 'server.js': '' }), 'application/zip');
  await refused(implicit, 422, 'INVALID_MANIFEST', { details: true });
  assert.deepEqual([...detailsByPath(implicit.body).keys()], ['services[0].main']);
});

test('a publish refused for authentication stores nothing either', async () => {
  await takeSnapshot();
  await refused(await upload(h, await tarGzOf(routePlugin({ name: 'anon', namespace: 'anon' })), 'application/gzip', null), 401, 'UNAUTHORIZED');
});
