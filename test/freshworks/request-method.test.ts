// Freshworks' `$request` as an FDK app meets it, against a real loopback service behind an
// --egress-map name: invokeTemplate fills iparams, context and encode() into host, path,
// headers and query (what the service received is checked), sends the body, answers
// `{status, headers, response}`; a 4xx rejects with the plain `{status, headers, response,
// attempts, errorSource: 'APP'}` at once, 429 and 5xx are retried up to maxAttempts (and a
// Retry-After past the run's deadline stops the retries); an unknown template, a host outside
// the template and permissions.hosts, a private address and a secure iparam outside the
// headers reject with errorSource 'PLATFORM' before anything is sent; the older
// `$request.get/post(url, options)` substitutes iparams in the URL, headers and body, sends
// `json` and `formData`, and answers parsed JSON for `json`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fakeLookup } from '../egress/corpus.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type RecordedRequest, type StubServer } from '../helpers/stub-server.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/fdk-request');
const read = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const WS = 'fdk';
const API_KEY = 'sk-live-0123456789';

let h: TestHost;
let service: StubServer;
let installationId: string;
const hits = new Map<string, number>();

function respond(req: RecordedRequest, res: http.ServerResponse): void {
  const url = new URL(req.url, 'http://stub');
  const seen = (hits.get(url.pathname) ?? 0) + 1;
  hits.set(url.pathname, seen);
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  if (url.pathname === '/api/v2/tickets/42') json(200, { id: 42, subject: 'Printer on fire' }, { 'x-ratelimit-remaining': '99' });
  else if (url.pathname.endsWith('/reply')) json(201, { replied: true });
  else if (url.pathname === '/api/v2/tickets/missing') json(404, { code: 'not_found', message: 'no such ticket' });
  else if (url.pathname === '/flaky/bad') json(400, { code: 'invalid' });
  else if (url.pathname === '/flaky/unavailable') json(503, { code: 'down' });
  else if (url.pathname === '/flaky/throttled') json(429, { code: 'slow down' }, { 'retry-after': '0' });
  else if (url.pathname === '/flaky/later') json(429, { code: 'come back in an hour' }, { 'retry-after': '3600' });
  else if (url.pathname === '/flaky/recovers') json(seen < 3 ? 502 : 200, { attempt: seen });
  else if (url.pathname === '/api/planets') json(200, [{ name: 'Tatooine' }]);
  else if (url.pathname.startsWith('/legacy/')) json(url.pathname.endsWith('/denied') ? 401 : 200, { got: req.method });
  else res.writeHead(404).end('no route');
}

before(async () => {
  service = await startStub(respond);
  h = await startHost({ lookup: fakeLookup(), egressMap: { 'acme.example.com': service.url, 'legacy.example.com': service.url } });
  const published = await h.publish({ 'plugin.json': read('plugin.json'), 'server.js': read('server.js'), 'routes.js': read('routes.js') });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: WS, name: WS })).status, 201);
  const installed = await h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'fdk-request', iparams: { subdomain: 'acme', api_key: API_KEY } });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  installationId = installed.body.id;
});
after(async () => {
  await h?.close();
  await service?.close();
});

/** One `$request` call made by the app's route, and what the app saw. */
async function call(spec: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${h.url}/workspaces/${WS}/fdkreq/call`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

/** The requests that reached the service while `fn` ran. */
async function received<T>(fn: () => Promise<T>): Promise<{ outcome: T; requests: RecordedRequest[] }> {
  const from = service.requests.length;
  const outcome = await fn();
  return { outcome, requests: service.requests.slice(from) };
}

function assertFdkError(outcome: any, status: number, errorSource: 'APP' | 'PLATFORM', attempts: number): any {
  assert.equal(outcome.ok, false, `resolved: ${JSON.stringify(outcome.value)}`);
  assert.equal(outcome.plainObject, true, 'the rejection is a plain object');
  assert.equal(outcome.isError, false, 'the rejection is not an Error');
  const keys = ['attempts', 'errorSource', 'headers', 'response', 'status'];
  assert.deepEqual(outcome.keys, errorSource === 'APP' ? keys : [...keys, 'message'].sort(), JSON.stringify(outcome.error));
  assert.equal(outcome.error.status, status, JSON.stringify(outcome.error));
  assert.equal(outcome.error.errorSource, errorSource);
  assert.equal(outcome.error.attempts, attempts);
  assert.equal(typeof outcome.error.response, 'string');
  return outcome.error;
}

describe('invokeTemplate', () => {
  test('fills iparams, context and encode() into path, headers and query, and answers {status, headers, response}', async () => {
    const { outcome, requests } = await received(() => call({ template: 'getTicket', context: { id: 42, email: 'ada@example.com', include: 'requester' } }));
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.deepEqual(outcome.keys, ['headers', 'response', 'status']);
    assert.equal(outcome.value.status, 200);
    assert.equal(outcome.responseType, 'string', 'the body comes as text, as FDK gives it');
    assert.deepEqual(JSON.parse(outcome.value.response), { id: 42, subject: 'Printer on fire' });
    assert.equal(outcome.value.headers['x-ratelimit-remaining'], '99');
    assert.equal(requests.length, 1);
    const [req] = requests;
    assert.equal(req!.method, 'GET');
    assert.equal(req!.url, '/api/v2/tickets/42?include=requester&per_page=20');
    assert.equal(req!.headers.authorization, `Basic ${b64(API_KEY)}`, 'the secure iparam, base64-encoded');
    assert.equal(req!.headers['x-requester'], b64('ada@example.com:eu'), 'encode() of a context value, a literal and an iparam default');
    assert.equal(req!.headers['content-type'], 'application/json');
  });

  test('a missing context value renders as nothing; query added at run time is sent as given', async () => {
    const { outcome, requests } = await received(() => call({ template: 'getTicket', context: { id: 42 }, query: { page: 2 } }));
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(requests[0]!.url, '/api/v2/tickets/42?include=&per_page=20&page=2');
    assert.equal(requests[0]!.headers['x-requester'], b64(':eu'));
  });

  test('an app event handler replies through a template: the body is sent', async () => {
    const { outcome, requests } = await received(async () => {
      const fired = await h.api('POST', `/api/v1/workspaces/${WS}/installations/${installationId}/events/onScheduledEvent`,
        { data: { ticket: { id: 7, requester: 'Ada' } } });
      assert.equal(fired.status, 200, JSON.stringify(fired.body));
      return fired.body.run;
    });
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome));
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.method, 'POST');
    assert.equal(requests[0]!.url, '/api/v2/tickets/7/reply');
    assert.equal(requests[0]!.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(requests[0]!.body), { body: 'Thanks for reporting, Ada.' });
    const run = await h.api('GET', `/api/v1/workspaces/${WS}/runs/${outcome.id}`);
    const line = (run.body.log as string).split('\n').find((l) => l.includes('REPLIED '));
    assert.ok(line, run.body.log);
    const data = JSON.parse(line.slice(line.indexOf('REPLIED ') + 'REPLIED '.length));
    assert.equal(data.status, 201);
    assert.deepEqual(JSON.parse(data.response), { replied: true });
  });

  test('a 4xx rejects with the APP error shape at once, even with attempts left', async () => {
    const missing = await received(() => call({ template: 'getTicket', context: { id: 'missing' } }));
    const error = assertFdkError(missing.outcome, 404, 'APP', 1);
    assert.deepEqual(JSON.parse(error.response), { code: 'not_found', message: 'no such ticket' });
    assert.match(error.headers['content-type'], /application\/json/);
    assert.equal(missing.requests.length, 1);
    const bad = await received(() => call({ template: 'flaky', context: { mode: 'bad' } }));
    assertFdkError(bad.outcome, 400, 'APP', 1);
    assert.equal(bad.requests.length, 1, 'a 400 is not retried although maxAttempts is 3');
  });

  test('5xx and 429 are retried up to maxAttempts, then reject with the attempts made', async () => {
    const down = await received(() => call({ template: 'flaky', context: { mode: 'unavailable' } }));
    assertFdkError(down.outcome, 503, 'APP', 3);
    assert.equal(down.requests.length, 3);
    const throttled = await received(() => call({ template: 'flaky', context: { mode: 'throttled' } }));
    assertFdkError(throttled.outcome, 429, 'APP', 3);
    assert.equal(throttled.requests.length, 3);
  });

  test('a request that recovers on the third attempt resolves', async () => {
    const { outcome, requests } = await received(() => call({ template: 'flaky', context: { mode: 'recovers' } }));
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.value.status, 200);
    assert.deepEqual(JSON.parse(outcome.value.response), { attempt: 3 });
    assert.equal(requests.length, 3);
  });

  test('a Retry-After past the run deadline ends the retries at once', async () => {
    const { outcome, requests } = await received(() => call({ template: 'flaky', context: { mode: 'later' } }));
    const error = assertFdkError(outcome, 429, 'APP', 1);
    assert.equal(error.headers['retry-after'], '3600');
    assert.equal(requests.length, 1);
  });

  test('an unknown template name rejects with the PLATFORM error, nothing sent', async () => {
    const { outcome, requests } = await received(() => call({ template: 'noSuchTemplate', context: {} }));
    const error = assertFdkError(outcome, 400, 'PLATFORM', 0);
    assert.match(error.message, /request template `noSuchTemplate` is not declared/);
    assert.equal(error.response, error.message);
    assert.equal(requests.length, 0);
  });

  test('a host chosen from context is the template\'s (as FDK allows in serverless code); a template host on a private address is refused', async () => {
    const chosen = await received(() => call({ template: 'dynamicHost', context: { host: 'acme.example.com' } }));
    assert.equal(chosen.outcome.ok, true, JSON.stringify(chosen.outcome));
    assert.equal(chosen.requests[0]!.url, '/api/planets');
    const permitted = await received(() => call({ template: 'dynamicHost', context: { host: 'legacy.example.com' } }));
    assert.equal(permitted.outcome.ok, true, JSON.stringify(permitted.outcome));
    assert.equal(permitted.requests[0]!.url, '/api/planets');
    const loopback = await received(() => call({ template: 'loopback', context: {} }));
    const denied = assertFdkError(loopback.outcome, 403, 'PLATFORM', 0);
    assert.match(denied.message, /plugins may not reach private, loopback or link-local addresses/);
    assert.equal(loopback.requests.length, 0);
  });

  test('a secure iparam outside the header values is refused before sending', async () => {
    const { outcome, requests } = await received(() => call({ template: 'keyInPath', context: {} }));
    const error = assertFdkError(outcome, 400, 'PLATFORM', 0);
    assert.match(error.message, /secure iparam `api_key` may only be used in header values, not in the path/);
    assert.ok(!error.message.includes(API_KEY));
    assert.equal(requests.length, 0);
  });
});

describe('$request.get/post/… (url, options)', () => {
  test('get substitutes iparams in the URL and header values', async () => {
    const { outcome, requests } = await received(() => call({
      method: 'get', url: 'http://legacy.example.com/legacy/<%= iparam.subdomain %>?region=<%= iparam.region %>',
      options: { headers: { Authorization: 'Basic <%= encode(iparam.api_key) %>', 'X-Plain': 'as is' } },
    }));
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.deepEqual(outcome.keys, ['headers', 'response', 'status']);
    assert.equal(outcome.responseType, 'string');
    assert.deepEqual(JSON.parse(outcome.value.response), { got: 'GET' });
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.url, '/legacy/acme?region=eu');
    assert.equal(requests[0]!.headers.authorization, `Basic ${b64(API_KEY)}`);
    assert.equal(requests[0]!.headers['x-plain'], 'as is');
  });

  test('post with json sends JSON (iparams filled in) and answers parsed JSON', async () => {
    const { outcome, requests } = await received(() => call({
      method: 'post', url: 'http://legacy.example.com/legacy/items',
      options: { json: { owner: '<%= iparam.subdomain %>', count: 3, tags: ['a'] } },
    }));
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.responseType, 'object');
    assert.deepEqual(outcome.value.response, { got: 'POST' });
    assert.equal(requests[0]!.method, 'POST');
    assert.equal(requests[0]!.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(requests[0]!.body), { owner: 'acme', count: 3, tags: ['a'] });
  });

  test('post with a string body and formData', async () => {
    const text = await received(() => call({ method: 'put', url: 'http://legacy.example.com/legacy/text', options: { body: 'key=<%= iparam.subdomain %>', headers: { 'Content-Type': 'text/plain' } } }));
    assert.equal(text.outcome.ok, true, JSON.stringify(text.outcome));
    assert.equal(text.requests[0]!.method, 'PUT');
    assert.equal(text.requests[0]!.body, 'key=acme');
    assert.equal(text.requests[0]!.headers['content-type'], 'text/plain');
    const form = await received(() => call({ method: 'post', url: 'http://legacy.example.com/legacy/form', options: { formData: { name: 'Ada', tags: ['x', 'y'] } } }));
    assert.equal(form.outcome.ok, true, JSON.stringify(form.outcome));
    const type = String(form.requests[0]!.headers['content-type']);
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(type)?.[1];
    assert.ok(boundary, type);
    const parts = form.requests[0]!.body.split(`--${boundary}`).slice(1, -1).map((p) => p.trim());
    assert.deepEqual(parts, [
      'content-disposition: form-data; name="name"\r\n\r\nAda',
      'content-disposition: form-data; name="tags"\r\n\r\nx',
      'content-disposition: form-data; name="tags"\r\n\r\ny',
    ]);
  });

  test('a non-2xx rejects with the APP error shape; maxAttempts retries a 5xx', async () => {
    const denied = await received(() => call({ method: 'get', url: 'http://legacy.example.com/legacy/denied', options: {} }));
    assertFdkError(denied.outcome, 401, 'APP', 1);
    const down = await received(() => call({ method: 'delete', url: 'http://legacy.example.com/flaky/unavailable', options: { maxAttempts: 2, retryDelay: 0 } }));
    assertFdkError(down.outcome, 503, 'APP', 2);
    assert.equal(down.requests.length, 2);
  });

  test('a host outside permissions.hosts is refused with the PLATFORM error', async () => {
    const { outcome, requests } = await received(() => call({ method: 'get', url: 'http://acme.example.com/api/v2/tickets/42', options: {} }));
    const error = assertFdkError(outcome, 403, 'PLATFORM', 0);
    assert.match(error.message, /host `acme\.example\.com` is not in the plugin's permissions\.hosts/);
    assert.equal(requests.length, 0);
  });
});

test('$request counts against the same in-flight budget as fetch', async () => {
  const silent = await startStub(() => undefined); // accepts and never answers
  const small = await startHost({ egressMap: { 'silent.test': silent.url }, limits: { outboundPerInstallation: 2 } });
  try {
    const published = await small.publish({
      'plugin.json': { name: 'fdk-budget', version: '1.0.0', namespace: 'budget', services: [{ route: 'go', main: 'go.js' }], permissions: { hosts: ['silent.test'] }, limits: { timeoutMs: 5000 } },
      'go.js': `exports.run = function (e) {
        fetch('http://silent.test/a').catch(function () {});
        fetch('http://silent.test/b').catch(function () {});
        $request.get('http://silent.test/c', {}).then(function () { e.response.json({ sent: true }); }, function (err) { e.response.json(err); });
      };`,
    });
    assert.equal(published.status, 201, JSON.stringify(published.body));
    assert.equal((await small.api('POST', '/api/v1/workspaces', { id: 'b', name: 'b' })).status, 201);
    assert.equal((await small.api('POST', '/api/v1/workspaces/b/installations', { plugin: 'fdk-budget' })).status, 201);
    const res = await fetch(`${small.url}/workspaces/b/budget/go`);
    const error = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(error));
    assert.equal(error.status, 429, JSON.stringify(error));
    assert.equal(error.errorSource, 'PLATFORM');
    assert.equal(error.code, 'PLUGIN_LIMIT');
    assert.equal(error.limit, 'outboundPerInstallation');
    assert.equal(error.attempts, 0);
  } finally {
    await small.close();
    await silent.close();
  }
});
