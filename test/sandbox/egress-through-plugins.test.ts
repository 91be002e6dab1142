// The egress policy as plugin code meets it: every refused target of the egress corpus is
// refused for fetch, requestify and zn-http (absolute URL) alike, with a message naming the
// rule and without any request reaching a local service; redirects into refused places are
// refused; allowed calls (a mapped host, an --egress-allow address) carry method, headers,
// JSON body and query out and status, headers and body back; a response still open when the
// plugin answers its own HTTP request is cancelled.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { corpusPermittedHosts, fakeLookup, refusedTargets, type RefusalRule } from '../egress/corpus.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type RecordedRequest, type StubServer } from '../helpers/stub-server.ts';
import { fixtureFiles } from './fixtures/files.ts';

const clients = ['fetch', 'requestify', 'znhttp'] as const;
type Client = typeof clients[number];

const ruleMessage: Record<RefusalRule, RegExp> = {
  scheme: /scheme `[a-z]+:` is not allowed; plugins may only make http: and https: requests/,
  permission: /is not in the plugin's permissions\.hosts/,
  name: /is a loopback or cloud-metadata name; plugins may not reach it/,
  address: /plugins may not reach private, loopback or link-local addresses unless the operator allows it/,
};

// The manifest validator spells host names without a trailing dot; the policy treats
// `name.` and `name` alike, so this list permits exactly what corpusPermittedHosts does.
const permittedHosts = [...new Set(corpusPermittedHosts.map((h) => h.replace(/\.+$/, '')))];

let mapped: TestHost; // fakeLookup, api.example.com mapped to `service`
let allowing: TestHost; // --egress-allow 127.0.0.1, the plugin permitted `service`'s port only
let service: StubServer;
let bystander: StubServer; // a second local service nothing may reach

let slowResponse: http.ServerResponse | undefined;
let slowArrived!: () => void;
const slowStarted = new Promise<void>((resolve) => { slowArrived = resolve; });
let slowClosed!: () => void;
const slowClosedPromise = new Promise<void>((resolve) => { slowClosed = resolve; });

function respond(req: RecordedRequest, res: http.ServerResponse): void {
  const path = new URL(req.url, 'http://stub').pathname;
  if (path === '/v1/items') {
    res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'x-reply': 'yes', 'x-request-id': 'r-42' });
    res.end(JSON.stringify({ id: 7, tags: ['a', 'ü'], nested: { ok: true } }));
  } else if (path === '/teapot') {
    res.writeHead(418, { 'content-type': 'application/json', 'x-reason': 'short and stout' });
    res.end(JSON.stringify({ error: 'teapot', detail: 'no coffee' }));
  } else if (path === '/to-metadata') {
    res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
  } else if (path === '/to-unpermitted') {
    res.writeHead(302, { location: 'http://not-permitted.test/steal' }).end();
  } else if (path === '/to-self-by-address') {
    res.writeHead(307, { location: `${service.url}/v1/items` }).end();
  } else if (path === '/to-bystander') {
    res.writeHead(302, { location: `${bystander.url}/v1/items` }).end();
  } else if (path === '/slow') {
    slowResponse = res;
    res.on('close', () => slowClosed());
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('the first part, and the rest never comes');
    slowArrived();
  } else if (path === '/gate') {
    void slowStarted.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  } else {
    res.writeHead(404).end();
  }
}

async function probe(h: TestHost, ws: string, spec: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${h.url}/workspaces/${ws}/probe/call`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

/** The route as the brief gives it: only `?client=&url=`, so requestify and zn-http use plain get(url). */
async function probeGet(h: TestHost, ws: string, client: Client, url: string): Promise<any> {
  const res = await fetch(`${h.url}/workspaces/${ws}/probe/call?client=${client}&url=${encodeURIComponent(url)}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

function assertRefused(outcome: any, client: Client, rule: RefusalRule, context: string): void {
  assert.equal(outcome.ok, false, `${context}: the call went through: ${JSON.stringify(outcome)}`);
  if (client === 'fetch') {
    assert.equal(outcome.name, 'TypeError', context);
    assert.match(outcome.message, /^fetch failed: /, context);
  } else {
    assert.equal(outcome.kind, 'error', context);
    assert.equal(outcome.isError, true, context);
    assert.equal(outcome.code, 'EGRESS_DENIED', `${context}: ${outcome.message}`);
    assert.equal(outcome.status, 403, context);
  }
  assert.match(outcome.message, ruleMessage[rule], `${context}: ${outcome.message}`);
}

async function setUp(h: TestHost, ws: string, name: string, hosts: string[]): Promise<void> {
  const published = await h.publish(fixtureFiles('egress-probe', {
    'plugin.json': {
      name, version: '1.0.0', namespace: 'probe',
      services: [{ route: 'call', main: 'plugin.js' }, { route: 'cancel', main: 'cancel.js' }],
      permissions: { hosts },
      limits: { timeoutMs: 15000 },
    },
  }));
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
  const installed = await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin: name });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
}

before(async () => {
  service = await startStub(respond);
  bystander = await startStub();
  mapped = await startHost({ lookup: fakeLookup(), egressMap: { 'api.example.com': service.url } });
  await setUp(mapped, 'egress', 'egress-probe', permittedHosts);
  allowing = await startHost({ lookup: fakeLookup(), egressAllow: ['127.0.0.1'] });
  await setUp(allowing, 'allowing', 'egress-probe-allow', [`127.0.0.1:${new URL(service.url).port}`, '169.254.169.254']);
});

after(async () => {
  slowResponse?.destroy();
  await mapped?.close();
  await allowing?.close();
  await service?.close();
  await bystander?.close();
});

test('permissions.hosts takes the corpus host list as written (a trailing-dot name included)', async () => {
  const h = mapped;
  const published = await h.publish({
    'plugin.json': { name: 'corpus-hosts', version: '1.0.0', namespace: 'corpushosts', permissions: { hosts: corpusPermittedHosts } },
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
});

describe('every refused target is refused by every client', () => {
  for (const target of refusedTargets) {
    test(`${target.rule}: ${target.why} (${target.url})`, async () => {
      const before = service.requests.length + bystander.requests.length;
      for (const client of clients) {
        const outcome = await probeGet(mapped, 'egress', client, target.url);
        assertRefused(outcome, client, target.rule, `${client} ${target.url}`);
      }
      assert.equal(service.requests.length + bystander.requests.length, before, 'a refused request reached a local service');
    });
  }
});

describe('redirects are checked again', () => {
  const cases: Array<{ path: string; rule: RefusalRule; why: string }> = [
    { path: '/to-metadata', rule: 'address', why: 'to the link-local metadata address' },
    { path: '/to-unpermitted', rule: 'permission', why: 'to a host missing from permissions.hosts' },
    { path: '/to-self-by-address', rule: 'address', why: 'to the loopback address behind the mapped name' },
  ];
  for (const c of cases) {
    for (const client of clients) {
      test(`${client}: a redirect from a mapped service ${c.why} is refused`, async () => {
        const before = service.requests.length;
        const outcome = await probeGet(mapped, 'egress', client, `http://api.example.com${c.path}`);
        assertRefused(outcome, client, c.rule, `${client} ${c.path}`);
        assert.match(outcome.message, /redirect from http:\/\/api\.example\.com refused: /);
        assert.equal(service.requests.length, before + 1, 'only the redirecting request reaches the service');
        assert.equal(service.requests.at(-1)!.url, c.path);
      });
    }
  }
  for (const client of clients) {
    test(`${client}: a redirect from an --egress-allow address to metadata or to an unpermitted port is refused`, async () => {
      const port = new URL(service.url).port;
      const origin = `http://127\\.0\\.0\\.1:${port}`;
      const toMetadata = await probeGet(allowing, 'allowing', client, `${service.url}/to-metadata`);
      assertRefused(toMetadata, client, 'address', `${client} /to-metadata`);
      assert.match(toMetadata.message, new RegExp(`redirect from ${origin} refused: `));
      const toBystander = await probeGet(allowing, 'allowing', client, `${service.url}/to-bystander`);
      assertRefused(toBystander, client, 'permission', `${client} /to-bystander`);
      assert.match(toBystander.message, new RegExp(`redirect from ${origin} refused: `));
      assert.equal(bystander.requests.length, 0, 'the unpermitted port was reached');
    });
  }
});

describe('allowed calls go through and carry the request and the response', () => {
  const setups = [
    { name: 'a host mapped with --egress-map', host: () => mapped, ws: 'egress', base: () => 'http://api.example.com' },
    { name: 'an address allowed with --egress-allow', host: () => allowing, ws: 'allowing', base: () => service.url },
  ];
  for (const setup of setups) {
    for (const client of clients) {
      test(`${client} through ${setup.name}`, async () => {
        const before = service.requests.length;
        const spec: Record<string, unknown> = {
          client, method: 'POST', url: `${setup.base()}/v1/items?x=1&list=a&list=b`,
          headers: { 'x-trace': 'trace-123', authorization: 'Bearer plugin-secret', 'content-type': 'application/json' },
          body: { name: 'widget', count: 3, tags: ['x', 'ÿ€'] },
        };
        if (client === 'requestify') spec.params = { page: '2' };
        const outcome = await probe(setup.host(), setup.ws, spec);
        assert.equal(outcome.ok, true, JSON.stringify(outcome));

        const [received] = (await service.waitForRequests(before + 1)).slice(before);
        assert.equal(received!.method, 'POST');
        assert.equal(received!.url, client === 'requestify' ? '/v1/items?x=1&list=a&list=b&page=2' : '/v1/items?x=1&list=a&list=b');
        assert.equal(received!.headers['x-trace'], 'trace-123');
        assert.equal(received!.headers.authorization, 'Bearer plugin-secret');
        assert.match(String(received!.headers['content-type']), /^application\/json/);
        assert.deepEqual(JSON.parse(received!.body), { name: 'widget', count: 3, tags: ['x', 'ÿ€'] });

        assert.equal(outcome.status, 201);
        assert.equal(outcome.headers['x-reply'], 'yes');
        assert.equal(outcome.headers['x-request-id'], 'r-42');
        assert.equal(outcome.headers['content-type'], 'application/json; charset=utf-8');
        assert.deepEqual(outcome.body, { id: 7, tags: ['a', 'ü'], nested: { ok: true } });
        if (client === 'fetch') {
          assert.equal(outcome.statusOk, true);
          assert.equal(outcome.redirected, false);
          // The plugin sees the URL it asked for, not where the operator sent it.
          assert.equal(outcome.url, spec.url);
        }
      });

      test(`${client} through ${setup.name}: a plain GET by the brief's query form`, async () => {
        const before = service.requests.length;
        const outcome = await probeGet(setup.host(), setup.ws, client, `${setup.base()}/v1/items?q=plain`);
        assert.equal(outcome.ok, true, JSON.stringify(outcome));
        const [received] = (await service.waitForRequests(before + 1)).slice(before);
        assert.equal(received!.method, 'GET');
        assert.equal(received!.url, '/v1/items?q=plain');
        assert.equal(received!.body, '');
        assert.equal(outcome.status, 201);
        assert.deepEqual(outcome.body, { id: 7, tags: ['a', 'ü'], nested: { ok: true } });
      });
    }
  }

  test('fetch resolves on a 418 with ok false; requestify and zn-http reject with the response', async () => {
    const url = 'http://api.example.com/teapot';
    const viaFetch = await probeGet(mapped, 'egress', 'fetch', url);
    assert.equal(viaFetch.ok, true);
    assert.equal(viaFetch.status, 418);
    assert.equal(viaFetch.statusOk, false);
    assert.deepEqual(viaFetch.body, { error: 'teapot', detail: 'no coffee' });
    for (const client of ['requestify', 'znhttp'] as const) {
      const outcome = await probeGet(mapped, 'egress', client, url);
      assert.equal(outcome.ok, false, client);
      assert.equal(outcome.kind, 'response', `${client}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.status, 418, client);
      assert.equal(outcome.headers['x-reason'], 'short and stout', client);
      assert.deepEqual(outcome.body, { error: 'teapot', detail: 'no coffee' }, client);
    }
  });
});

test('a response still open when the plugin sends its HTTP response is cancelled', { timeout: 10_000 }, async () => {
  // The plugin's own limit is 15 s: a close well inside this test's 10 s is the cancellation,
  // not the end of the plugin's time.
  const res = await fetch(`${mapped.url}/workspaces/egress/probe/cancel`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { sent: true });
  await slowClosedPromise;
  assert.ok(slowResponse, 'the slow request reached the service');
  assert.equal(slowResponse.writableEnded, false, 'the service never finished the response: the client closed the socket');
});
