// Bad input at the HTTP edge (SPEC sections 7 and 9): bounded bodies (413 BODY_TOO_LARGE on
// admin paths and plugin routes, declared or streamed, and a connection that stays usable
// after one), malformed JSON to a plugin route, too many request headers, unknown paths and
// methods, the exact error envelope with cache-control: no-store, /healthz and /metrics.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import {
  assertError, callRoute, createWorkspace, installOk, publishOk, rawJson, rawRequest, send,
} from './fixtures/api.ts';

const MiB = 1024 * 1024;
let h: TestHost;
let tokenB: string;

before(async () => {
  h = await startHost();
  await createWorkspace(h, 'a');
  await createWorkspace(h, 'b');
  await publishOk(h, {
    'plugin.json': {
      name: 'echo', version: '1.0.0', namespace: 'echo', limits: { timeoutMs: 2000 },
      services: [{ route: 'echo', main: 'echo.js' }, { route: 'boom', main: 'boom.js' }, { route: 'private', main: 'echo.js', access: 'token' }],
    },
    'echo.js': 'exports.run = function (e) { var b = e.request.body; e.response.json({ type: typeof b, length: b === undefined ? 0 : typeof b === "string" ? b.length : JSON.stringify(b).length }); };\n',
    'boom.js': 'exports.run = function () { throw new Error("boom"); };\n',
  });
  await installOk(h, 'a', { plugin: 'echo' });
  tokenB = (await h.api('POST', '/api/v1/workspaces/b/tokens')).body.token;
});
after(async () => {
  await h.close();
});

/** How many runs workspace `a` has recorded (the history is flushed before it answers). */
async function runCount(): Promise<number> {
  return (await h.api('GET', '/api/v1/workspaces/a/runs?limit=200')).body.data.length;
}

/** A JSON text of exactly `size` bytes: `{"name":"…","pad":"aaa…"}`. */
function jsonOfSize(size: number, fields: Record<string, unknown> = {}): string {
  const head = JSON.stringify({ ...fields, pad: '' });
  const text = head.slice(0, -2) + 'a'.repeat(size - head.length) + '"}';
  assert.equal(Buffer.byteLength(text), size);
  return text;
}

interface ParsedResponse { status: number; headers: Record<string, string>; body: string }

/** Splits raw HTTP/1.1 bytes into the complete responses they hold (Content-Length framed). */
function parseResponses(raw: Buffer): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (rest.length < end + 4 + length) return out;
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
    rest = rest.subarray(end + 4 + length);
  }
}

/**
 * A raw TCP conversation: writes `first`, and once `afterFirst` complete responses have
 * come back writes `then` (if any); resolves with everything received when the server
 * closes the connection (the requests ask it to, or it refuses them).
 */
function converse(first: Array<string | Buffer>, then?: string, afterFirst = 1): Promise<{ raw: Buffer; responses: ParsedResponse[]; error?: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(Number(new URL(h.url).port), '127.0.0.1');
    const chunks: Buffer[] = [];
    let sent = then === undefined;
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!sent && parseResponses(Buffer.concat(chunks)).length >= afterFirst) {
        sent = true;
        socket.write(then!);
      }
    });
    socket.on('error', (err) => { error = err.message; });
    socket.on('close', () => {
      const raw = Buffer.concat(chunks);
      resolve({ raw, responses: parseResponses(raw), ...(error ? { error } : {}) });
    });
    for (const part of first) socket.write(part);
  });
}

const bearer = () => ({ authorization: `Bearer ${h.operatorToken}` });

test('a JSON body over 1 MiB on an admin path is 413 BODY_TOO_LARGE and stores nothing', async () => {
  const big = jsonOfSize(MiB + 1, { id: 'too-big', name: 'Too big' });
  const json = { 'content-type': 'application/json' };
  const inst = (await h.api('GET', '/api/v1/workspaces/a/installations')).body.data[0];
  for (const [method, path] of [
    ['POST', '/api/v1/workspaces'],
    ['POST', '/api/v1/workspaces/a/installations'],
    ['PATCH', `/api/v1/workspaces/a/installations/${inst.id}`],
    ['POST', '/api/v1/workspaces/a/forms'],
    ['POST', '/api/v1/workspaces/a/tokens'],
  ]) {
    const res = await send(h, method!, path!, { body: big, headers: json });
    assertError(res, 413, 'BODY_TOO_LARGE', { details: false });
  }
  // Far over the limit, declared up front.
  assertError(await send(h, 'POST', '/api/v1/workspaces', { body: jsonOfSize(8 * MiB, { name: 'x' }), headers: json }), 413, 'BODY_TOO_LARGE');
  // Streamed without a length: refused once the limit is passed, without waiting for the end.
  const streamed = await rawRequest(h.url, {
    method: 'POST', path: '/api/v1/workspaces', end: false, body: Buffer.from(jsonOfSize(MiB + 4096, { id: 'too-big', name: 'x' })),
    headers: { ...bearer(), ...json, 'transfer-encoding': 'chunked' },
  });
  assertError(rawJson(streamed), 413, 'BODY_TOO_LARGE');

  assertError(await h.api('GET', '/api/v1/workspaces/too-big'), 404, 'WORKSPACE_NOT_FOUND');
  assert.equal((await h.api('GET', '/api/v1/workspaces/a/forms')).body.totalCount, 0);
  assert.equal((await h.api('GET', `/api/v1/workspaces/a/installations/${inst.id}`)).body.active, true);

  // Exactly 1 MiB is within the limit: it is read, and refused for what it says.
  const edge = await send(h, 'POST', '/api/v1/workspaces', { body: jsonOfSize(MiB, { id: 'edge', name: 'Edge' }), headers: json });
  assertError(edge, 400, 'INVALID_BODY');
  assert.match(edge.body.error.message, /pad/);
});

test('a body over 1 MiB to a plugin route is 413 BODY_TOO_LARGE and the plugin never runs', async () => {
  const runs = await runCount();
  const ok = await callRoute(h, '/workspaces/a/echo/echo', { method: 'POST', body: 'x'.repeat(MiB), headers: { 'content-type': 'text/plain' } });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { type: 'string', length: MiB });
  assert.equal(await runCount(), runs + 1);

  assertError(await callRoute(h, '/workspaces/a/echo/echo', { method: 'POST', body: 'x'.repeat(MiB + 1), headers: { 'content-type': 'text/plain' } }), 413, 'BODY_TOO_LARGE', { details: false });
  assertError(await callRoute(h, '/workspaces/a/echo/echo', { method: 'PUT', body: jsonOfSize(2 * MiB), headers: { 'content-type': 'application/json' } }), 413, 'BODY_TOO_LARGE');
  const streamed = await rawRequest(h.url, {
    method: 'POST', path: '/workspaces/a/echo/echo', end: false, body: Buffer.alloc(MiB + 4096, 0x61),
    headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
  });
  assertError(rawJson(streamed), 413, 'BODY_TOO_LARGE');
  assert.equal(await runCount(), runs + 1, 'no run for a refused body');
});

test('after a 413 on a streamed body, the connection is closed or still answers', async () => {
  // An oversized chunked body: the host answers 413 before the body ends. Then the body
  // ends and a second request follows on the same connection. Either the 413 said
  // `Connection: close` (and the host closed), or the second request must be answered;
  // a connection kept alive but never answered again hangs real clients' pools.
  const chunk = Buffer.alloc(3 * MiB, 0x61);
  const head = `POST /api/v1/workspaces HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${h.operatorToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const { responses, error } = await converse(
    [head, `${chunk.length.toString(16)}\r\n`, chunk, '\r\n'],
    '0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n',
  );
  assert.ok(responses.length >= 1, `no answer at all (${error ?? 'closed'})`);
  const [first, second] = responses;
  assert.equal(first!.status, 413);
  assert.equal(JSON.parse(first!.body).error.code, 'BODY_TOO_LARGE');
  if (first!.headers.connection?.toLowerCase() === 'close') {
    assert.equal(second, undefined);
  } else {
    assert.ok(second, `the 413 kept the connection alive (Connection: ${first!.headers.connection}) but the next request on it was never answered (${error ?? 'closed'})`);
    assert.equal(second.status, 200);
    assert.equal(JSON.parse(second.body).status, 'ok');
  }
});

test('malformed JSON to a plugin route is 400 INVALID_JSON and the plugin never runs', async () => {
  const runs = await runCount();
  for (const [type, body] of [
    ['application/json', '{"unterminated": '],
    ['application/json; charset=utf-8', "{'single': 'quotes'}"],
    ['application/merge-patch+json', '[1, 2,]'],
    ['application/json', 'undefined'],
  ]) {
    const res = await callRoute(h, '/workspaces/a/echo/echo', { method: 'POST', body, headers: { 'content-type': type! } });
    assertError(res, 400, 'INVALID_JSON', { details: false });
  }
  assert.equal(await runCount(), runs);
  // The same text as text/plain is the plugin's to read.
  const text = await callRoute(h, '/workspaces/a/echo/echo', { method: 'POST', body: '{"unterminated": ', headers: { 'content-type': 'text/plain' } });
  assert.deepEqual(text.body, { type: 'string', length: 17 });
  const form = await callRoute(h, '/workspaces/a/echo/echo', { method: 'POST', body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.deepEqual(form.body, { type: 'object', length: JSON.stringify({ a: '1', b: '2' }).length });
});

test('more than 100 request headers are refused (431 or closed), never a 500; 90 are fine', async () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `X-Filler-${i}: ${i}\r\n`).join('');
  for (const path of ['/api/v1/workspaces', '/workspaces/a/echo/echo', '/healthz']) {
    const { responses } = await converse([`GET ${path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${h.operatorToken}\r\n${many(150)}Connection: close\r\n\r\n`]);
    if (responses.length > 0) assert.equal(responses[0]!.status, 431, `${path}: ${responses[0]!.status} ${responses[0]!.body}`);
  }
  // And through fetch, as a client would send them.
  const headers: Record<string, string> = { ...bearer() };
  for (let i = 0; i < 150; i++) headers[`x-filler-${i}`] = String(i);
  const viaFetch = await fetch(`${h.url}/api/v1/workspaces`, { headers }).then((r) => r.status, () => 'closed');
  assert.ok(viaFetch === 431 || viaFetch === 'closed', String(viaFetch));

  const { responses } = await converse([`GET /api/v1/workspaces HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${h.operatorToken}\r\n${many(90)}Connection: close\r\n\r\n`]);
  assert.equal(responses.length, 1);
  assert.equal(responses[0]!.status, 200);
  assert.ok(JSON.parse(responses[0]!.body).data.length >= 2);
});

test('an unknown path or method gets the error envelope', async () => {
  const nope = await send(h, 'GET', '/api/v1/nope');
  assertError(nope, 404, 'NOT_FOUND', { details: false });
  assert.match(nope.body.error.message, /\/api\/v1\/nope/);
  assertError(await send(h, 'POST', '/api/v1/nope/deeper', { body: '{}', headers: { 'content-type': 'application/json' } }), 404, 'NOT_FOUND');
  assertError(await send(h, 'GET', '/api/v2/workspaces'), 404, 'NOT_FOUND');
  assertError(await send(h, 'GET', '/nope', { token: null }), 404, 'NOT_FOUND');
  assertError(await send(h, 'GET', '/', { token: null }), 404, 'NOT_FOUND');
  assertError(await send(h, 'DELETE', '/api/v1/workspaces'), 405, 'METHOD_NOT_ALLOWED', { details: false });
  assertError(await send(h, 'PUT', '/api/v1/workspaces/a'), 405, 'METHOD_NOT_ALLOWED');
  assertError(await send(h, 'PATCH', '/api/v1/plugins'), 405, 'METHOD_NOT_ALLOWED');
  assertError(await send(h, 'GET', '/workspaces/a/nothing/here', { token: null }), 404, 'ROUTE_NOT_FOUND');
  assertError(await send(h, 'GET', '/workspaces/a/echo/unknown-route', { token: null }), 404, 'ROUTE_NOT_FOUND');
  assertError(await send(h, 'GET', '/workspaces/ghost/echo/echo', { token: null }), 404, 'ROUTE_NOT_FOUND');
});

test('every error answer is exactly {error: {code, message[, details]}} with cache-control: no-store', async () => {
  const json = { 'content-type': 'application/json' };
  const cases: Array<[Promise<{ status: number; body: any; headers: Headers }>, number, string]> = [
    [send(h, 'GET', '/api/v1/workspaces', { token: null }), 401, 'UNAUTHORIZED'],
    [send(h, 'GET', '/api/v1/workspaces', { token: 'phw_wrong' }), 401, 'UNAUTHORIZED'],
    [send(h, 'GET', '/api/v1/workspaces/a', { token: tokenB }), 403, 'FORBIDDEN'],
    [send(h, 'POST', '/api/v1/workspaces', { token: tokenB, body: '{"name":"x"}', headers: json }), 403, 'FORBIDDEN'],
    [send(h, 'GET', '/api/v1/workspaces/ghost'), 404, 'WORKSPACE_NOT_FOUND'],
    [send(h, 'GET', '/api/v1/plugins/ghost'), 404, 'PLUGIN_NOT_FOUND'],
    [send(h, 'GET', '/api/v1/workspaces/a/installations/inst_ghost'), 404, 'INSTALLATION_NOT_FOUND'],
    [send(h, 'GET', '/api/v1/workspaces/a/runs/run_ghost'), 404, 'RUN_NOT_FOUND'],
    [send(h, 'GET', '/api/v1/workspaces/a/forms/12345'), 404, 'RECORD_NOT_FOUND'],
    [send(h, 'POST', '/api/v1/workspaces', { body: '{"id":"a","name":"Again"}', headers: json }), 409, 'WORKSPACE_EXISTS'],
    [send(h, 'POST', '/api/v1/workspaces', { body: '{', headers: json }), 400, 'INVALID_JSON'],
    [send(h, 'POST', '/api/v1/workspaces', { body: '{"name":"x"}', headers: { 'content-type': 'text/csv' } }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [send(h, 'GET', '/api/v1/workspaces?limit=-5'), 400, 'INVALID_QUERY'],
    [send(h, 'POST', '/api/v1/plugins', { body: 'PK\u0003\u0004 not really', headers: { 'content-type': 'application/zip' } }), 400, 'INVALID_ARCHIVE'],
    [send(h, 'GET', '/workspaces/a/echo/boom', { token: null }), 500, 'PLUGIN_ERROR'],
    [send(h, 'GET', '/workspaces/a/echo/private', { token: null }), 401, 'UNAUTHORIZED'],
    [send(h, 'GET', '/workspaces/a/echo/private', { token: tokenB }), 403, 'FORBIDDEN'],
    [send(h, 'GET', '/workspaces/a/echo/nowhere', { token: null }), 404, 'ROUTE_NOT_FOUND'],
    [send(h, 'GET', '/api/v1/nope'), 404, 'NOT_FOUND'],
  ];
  for (const [pending, status, code] of cases) {
    const res = await pending;
    assertError(res, status, code, { details: false });
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, code);
  }
  // Validation errors carry details, and nothing else beside code and message.
  const withDetails = [
    await send(h, 'POST', '/api/v1/workspaces', { body: '{"id":"bad id"}', headers: json }),
    await send(h, 'POST', '/api/v1/workspaces/a/installations', { body: '{"plugin":"echo","iparams":{"x":1}}', headers: json }),
  ];
  assertError(withDetails[0]!, 400, 'INVALID_BODY', { details: true });
  assertError(withDetails[1]!, 422, 'INVALID_IPARAMS', { details: true });
  assertError(await send(h, 'POST', '/api/v1/workspaces/a/installations', { body: '{"plugin":"echo"}', headers: json }), 409, 'NAMESPACE_TAKEN', { details: false });
  for (const res of withDetails) assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  // A plugin error names its run but keeps the stack out of the answer.
  const boom = await send(h, 'GET', '/workspaces/a/echo/boom', { token: null });
  assert.match(boom.body.error.message, /boom/);
  assert.ok(!boom.body.error.message.includes('\n'), boom.body.error.message);
  assert.ok(boom.headers.get('x-plughost-run'));
});

test('GET /healthz answers {status: "ok", store, scheduler, recorder} without a token', async () => {
  const res = await send(h, 'GET', '/healthz', { token: null });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.body.status, 'ok');
  assert.deepEqual(Object.keys(res.body).sort(), ['recorder', 'scheduler', 'status', 'store']);
  assert.equal(res.body.scheduler.ok, true);
  assert.deepEqual({ backlog: typeof res.body.recorder.backlog, lost: res.body.recorder.lost }, { backlog: 'number', lost: 0 });
  assert.equal(res.body.store.ok, true);
  assert.equal(res.body.store.dialect, h.host.store.dialect);
  assert.equal(typeof res.body.store.latencyMs, 'number');
  assert.ok(res.body.store.latencyMs >= 0);
});

test('GET /metrics is Prometheus text with plughost_runs_total counting runs', async () => {
  const read = async () => {
    const res = await fetch(`${h.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const count = (text: string, status: string) => {
    const m = new RegExp(`^plughost_runs_total\\{kind="route",status="${status}"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  const before = await read();
  assert.match(before, /^# HELP plughost_runs_total .+$/m);
  assert.match(before, /^# TYPE plughost_runs_total counter$/m);
  assert.match(before, /^# TYPE plughost_http_requests_total counter$/m);
  const ok = await callRoute(h, '/workspaces/a/echo/echo');
  assert.equal(ok.status, 200);
  assertError(await callRoute(h, '/workspaces/a/echo/boom'), 500, 'PLUGIN_ERROR');
  const after = await read();
  assert.equal(count(after, 'succeeded'), count(before, 'succeeded') + 1);
  assert.equal(count(after, 'failed'), count(before, 'failed') + 1);
  // Every sample line is `name{labels} value`.
  for (const line of after.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? ([-+0-9.eE]+|NaN|[+-]Inf)$/, line);
  }
});
