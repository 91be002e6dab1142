// The plugin route contract of SPEC section 4: what `eventData.request` holds (method,
// headers, query with repeated keys as arrays, JSON/form/text bodies, params, originalUrl,
// sub-paths), `eventData.response` chaining and what reaches the client (status, headers,
// set-cookie dropped, the sandbox CSP, a second send ignored, binary bodies as bytes), the
// 404s (unknown workspace/namespace/route, inactive installation, reserved namespaces), and
// the `token` and `signed` access rules.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { fixtureFiles } from './fixtures/files.ts';

let h: TestHost;
let installationId: string;
let ownToken: string;
let otherToken: string;

const routes = ['echo', 'shape', 'chained', 'twice', 'binary', 'typed-binary', 'empty', 'html'];

before(async () => {
  h = await startHost();
  for (const id of ['rc', 'rc-other']) assert.equal((await h.api('POST', '/api/v1/workspaces', { id, name: id })).status, 201);
  const published = await h.publish(fixtureFiles('route-contract', {
    'plugin.json': {
      name: 'route-contract', version: '1.0.0', namespace: 'rc',
      services: [
        ...routes.map((route) => ({ route, main: 'plugin.js' })),
        { route: 'private', main: 'plugin.js', access: 'token' },
        { route: 'signed', main: 'plugin.js', access: 'signed' },
      ],
      limits: { timeoutMs: 2000 },
    },
  }));
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const installed = await h.api('POST', '/api/v1/workspaces/rc/installations', { plugin: 'route-contract' });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  installationId = installed.body.id;
  // The same plugin in the other workspace, so that its token has a route of its own there.
  assert.equal((await h.api('POST', '/api/v1/workspaces/rc-other/installations', { plugin: 'route-contract' })).status, 201);
  const own = await h.api('POST', '/api/v1/workspaces/rc/tokens');
  const other = await h.api('POST', '/api/v1/workspaces/rc-other/tokens');
  assert.equal(own.status, 201);
  assert.equal(other.status, 201);
  ownToken = own.body.token;
  otherToken = other.body.token;
});
after(async () => {
  await h?.close();
});

async function echo(path: string, init: RequestInit = {}): Promise<{ request: any; bodyType: string; keys: string[] }> {
  const res = await fetch(`${h.url}/workspaces/rc/rc/echo${path}`, init);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  const body = JSON.parse(text);
  assert.equal(body.error.code, code, text);
  assert.equal(typeof body.error.message, 'string');
}

describe('eventData.request', () => {
  test('carries method, headers, repeated query keys as arrays, the parsed JSON body, params and originalUrl', async () => {
    const { request, bodyType, keys } = await echo('?a=1&a=2&b=x%20y&empty=', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Test': 'yes' },
      body: JSON.stringify({ hello: 'world', n: [1, 2], nested: { ok: true } }),
    });
    for (const key of ['method', 'headers', 'query', 'body', 'params', 'originalUrl']) assert.ok(keys.includes(key), `request.${key}`);
    assert.equal(request.method, 'POST');
    assert.equal(request.headers['x-test'], 'yes');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(request.query, { a: ['1', '2'], b: 'x y', empty: '' });
    assert.equal(bodyType, 'object');
    assert.deepEqual(request.body, { hello: 'world', n: [1, 2], nested: { ok: true } });
    assert.deepEqual(request.params, { workspaceId: 'rc', pluginNamespace: 'rc', pluginRoute: 'echo' });
    assert.equal(request.originalUrl, '/workspaces/rc/rc/echo?a=1&a=2&b=x%20y&empty=');
  });

  test('sub-paths under the route reach the same route, with the full originalUrl', async () => {
    const { request } = await echo('/items/42/edit?mode=full', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '[1,2,3]' });
    assert.equal(request.method, 'PUT');
    assert.deepEqual(request.params, { workspaceId: 'rc', pluginNamespace: 'rc', pluginRoute: 'echo' });
    assert.equal(request.originalUrl, '/workspaces/rc/rc/echo/items/42/edit?mode=full');
    assert.deepEqual(request.query, { mode: 'full' });
    assert.deepEqual(request.body, [1, 2, 3]);
  });

  test('a form body is parsed, repeated fields as arrays', async () => {
    const { request, bodyType } = await echo('', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: 'a=1&b=two+words&a=3&c=%C3%A9',
    });
    assert.equal(bodyType, 'object');
    assert.deepEqual(request.body, { a: ['1', '3'], b: 'two words', c: 'é' });
  });

  test('any other body arrives as text', async () => {
    const plain = await echo('', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'just text, ünïcode' });
    assert.equal(plain.bodyType, 'string');
    assert.equal(plain.request.body, 'just text, ünïcode');
    const xml = await echo('', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a b="1"/>' });
    assert.equal(xml.request.body, '<a b="1"/>');
  });

  test('a GET has no body', async () => {
    const { request, bodyType } = await echo('');
    assert.equal(request.method, 'GET');
    assert.equal(bodyType, 'undefined');
    assert.deepEqual(request.query, {});
  });

  test('malformed JSON is refused before the plugin runs', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    assert.equal(res.headers.get('x-plughost-run'), null);
    await expectError(res, 400, 'INVALID_JSON');
  });
});

describe('eventData.response', () => {
  test('status().set().json() chain, and status and headers reach the client; set-cookie is dropped', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/shape`);
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { chain: [true, true, true, true, true] });
    assert.equal(res.headers.get('x-one'), '1');
    assert.equal(res.headers.get('x-two'), '2');
    assert.equal(res.headers.get('x-list'), 'a, b');
    assert.equal(res.headers.get('x-mixed-case'), 'kept');
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('set-cookie'), null);
    assert.deepEqual(res.headers.getSetCookie(), []);
  });

  test('plugin responses carry a sandbox content-security-policy and nosniff', async () => {
    for (const route of ['shape', 'html', 'binary']) {
      const res = await fetch(`${h.url}/workspaces/rc/rc/${route}`);
      await res.arrayBuffer();
      assert.match(res.headers.get('content-security-policy') ?? '', /^sandbox( |$)/, route);
      assert.doesNotMatch(res.headers.get('content-security-policy') ?? '', /allow-same-origin/, route);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', route);
    }
  });

  test('status().set().send() chained in one expression', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/chained`);
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('x-chained'), 'yes');
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await res.text(), 'chained text');
  });

  test('a string body defaults to text/html in UTF-8', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/html`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await res.text(), '<p>héllo</p>');
  });

  test('a second send is ignored', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/twice`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'first');
    const runId = res.headers.get('x-plughost-run');
    assert.ok(runId);
    const run = await h.api('GET', `/api/v1/workspaces/rc/runs/${runId}`);
    assert.equal(run.status, 200);
    assert.equal(run.body.status, 'succeeded');
    assert.equal(run.body.httpStatus, 200);
  });

  test('the warning about the ignored second send reaches the run log', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/twice`);
    assert.equal(await res.text(), 'first');
    const run = await h.api('GET', `/api/v1/workspaces/rc/runs/${res.headers.get('x-plughost-run')}`);
    assert.equal(run.status, 200);
    assert.match(run.body.log, /\[warn\] response already sent; this send\(\) is ignored/);
  });

  test('a Uint8Array body is sent as bytes', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/binary`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual([...new Uint8Array(await res.arrayBuffer())], [0, 1, 2, 127, 128, 200, 254, 255]);
    const typed = await fetch(`${h.url}/workspaces/rc/rc/typed-binary`);
    assert.equal(typed.headers.get('content-type'), 'image/png');
    assert.deepEqual([...new Uint8Array(await typed.arrayBuffer())], [80, 78, 71], 'a subarray sends only its own bytes');
  });

  test('status(204).end() answers with no body', async () => {
    const res = await fetch(`${h.url}/workspaces/rc/rc/empty`);
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
  });
});

describe('what is not routed', () => {
  test('unknown workspace, namespace or route: 404 ROUTE_NOT_FOUND without running anything', async () => {
    for (const path of ['/workspaces/nope/rc/echo', '/workspaces/rc/nope/echo', '/workspaces/rc/rc/nope', '/workspaces/rc/rc/nope/sub']) {
      const res = await fetch(h.url + path);
      assert.equal(res.headers.get('x-plughost-run'), null, path);
      await expectError(res, 404, 'ROUTE_NOT_FOUND');
    }
  });

  test('an inactive installation is 404 until it is active again', async () => {
    const off = await h.api('PATCH', `/api/v1/workspaces/rc/installations/${installationId}`, { active: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.active, false);
    try {
      await expectError(await fetch(`${h.url}/workspaces/rc/rc/echo`), 404, 'ROUTE_NOT_FOUND');
      // The same plugin in the other workspace still serves.
      const other = await fetch(`${h.url}/workspaces/rc-other/rc/html`);
      assert.equal(other.status, 200);
      await other.arrayBuffer();
    } finally {
      const on = await h.api('PATCH', `/api/v1/workspaces/rc/installations/${installationId}`, { active: true });
      assert.equal(on.status, 200, JSON.stringify(on.body));
    }
    const back = await fetch(`${h.url}/workspaces/rc/rc/html`);
    assert.equal(back.status, 200);
    assert.equal(await back.text(), '<p>héllo</p>');
  });

  test('the namespaces api, admin and do are reserved: no plugin can take them and they never reach a plugin', async () => {
    for (const namespace of ['api', 'admin', 'do']) {
      const published = await h.publish({
        'plugin.json': { name: `reserved-${namespace}`, version: '1.0.0', namespace, services: [{ route: 'echo' }] },
        'plugin.js': 'exports.run = function (e) { e.response.send("taken"); };',
      });
      assert.equal(published.status, 422, JSON.stringify(published.body));
      assert.equal(published.body.error.code, 'INVALID_MANIFEST');
      assert.ok(published.body.error.details.some((d: { path: string }) => d.path === 'namespace'), JSON.stringify(published.body));

      const res = await fetch(`${h.url}/workspaces/rc/${namespace}/echo`);
      assert.equal(res.headers.get('x-plughost-run'), null);
      // /do and /api are Haplo's P.respond space: nothing declares a root there.
      await expectError(res, 404, namespace === 'admin' ? 'NOT_FOUND' : 'ROUTE_NOT_FOUND');
    }
  });
});

describe('access', () => {
  test('a token route: 401 without a token or with an unknown one, 403 with another workspace\'s, 200 with its own or the operator\'s', async () => {
    const call = (token?: string) => fetch(`${h.url}/workspaces/rc/rc/private`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    const none = await call();
    assert.equal(none.headers.get('x-plughost-run'), null);
    await expectError(none, 401, 'UNAUTHORIZED');
    await expectError(await call('phw_not-a-real-token'), 401, 'UNAUTHORIZED');
    const foreign = await call(otherToken);
    assert.equal(foreign.headers.get('x-plughost-run'), null);
    await expectError(foreign, 403, 'FORBIDDEN');
    for (const token of [ownToken, h.operatorToken]) {
      const res = await call(token);
      assert.equal(res.status, 200);
      assert.equal((await res.json() as { served: string }).served, 'private');
    }
    // The other workspace's token opens that workspace's own installation.
    const there = await fetch(`${h.url}/workspaces/rc-other/rc/private`, { headers: { authorization: `Bearer ${otherToken}` } });
    assert.equal(there.status, 200);
    await there.arrayBuffer();
  });

  test('a signed route accepts a token of its workspace in place of a signature', async () => {
    const call = (token?: string) => fetch(`${h.url}/workspaces/rc/rc/signed`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: '{}',
    });
    await expectError(await call(), 401, 'UNAUTHORIZED');
    await expectError(await call(otherToken), 403, 'FORBIDDEN');
    const own = await call(ownToken);
    assert.equal(own.status, 200);
    assert.equal((await own.json() as { served: string }).served, 'signed');
  });

  test('the host token that authorised a call is not handed to the plugin', async () => {
    for (const [route, token] of [['private', ownToken], ['private', h.operatorToken], ['signed', ownToken]] as const) {
      const res = await fetch(`${h.url}/workspaces/rc/rc/${route}`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}',
      });
      assert.equal(res.status, 200);
      // It sees the placeholder Zengine's runner would give instead, never the host's token.
      const seen = await res.json() as { served: string; authorization: string };
      assert.equal(seen.served, route);
      assert.match(seen.authorization, /^Bearer zn-[0-9a-f-]{36}$/, `${route}: the plugin saw ${seen.authorization}`);
      assert.ok(!seen.authorization.includes(token), `${route}: the plugin saw the bearer token`);
    }
  });
});
