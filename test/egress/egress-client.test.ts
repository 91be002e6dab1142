// Egress client against real HTTP servers on 127.0.0.1: round trips, redirects re-checked
// by the policy, size and time limits, cancellation, mapping and address pinning.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { createEgressClient, createEgressPolicy } from '../../runtime/egress/index.ts';
import type { EgressClient, EgressLimits, Lookup } from '../../runtime/egress/index.ts';
import { isPlughostError } from '../../runtime/errors.ts';
import { fakeDns, fakeLookup } from './corpus.ts';

interface Stub { server: http.Server; origin: string; port: number; requests: number }

async function startStub(): Promise<Stub> {
  const stub: Stub = { server: http.createServer(), origin: '', port: 0, requests: 0 };
  stub.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    stub.requests++;
    const url = new URL(req.url ?? '/', 'http://stub');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => route(stub, req, res, url, Buffer.concat(chunks)));
  });
  stub.server.listen(0, '127.0.0.1');
  await once(stub.server, 'listening');
  stub.port = (stub.server.address() as AddressInfo).port;
  stub.origin = `http://127.0.0.1:${stub.port}`;
  return stub;
}

function route(stub: Stub, req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: Buffer): void {
  const path = url.pathname;
  const loop = /^\/loop\/(\d+)$/.exec(path);
  if (path === '/hang') {
    stub.server.emit('hang', req);
  } else if (path === '/trickle') {
    res.writeHead(200, { 'content-type': 'text/plain' }).write('first chunk, then nothing');
  } else if (path === '/redirect') {
    res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' }).end('moved');
  } else if (loop) {
    const n = Number(loop[1]);
    if (n >= Number(url.searchParams.get('stop'))) res.end(`end ${n}`);
    else res.writeHead(302, { location: `/loop/${n + 1}${url.search}` }).end();
  } else if (path === '/big') {
    const size = Number(url.searchParams.get('n'));
    if (!url.searchParams.has('chunked')) res.setHeader('content-length', size);
    for (let sent = 0; sent < size; sent += 16384) res.write(Buffer.alloc(Math.min(16384, size - sent), 120));
    res.end();
  } else if (path === '/gzip') {
    const plain = url.searchParams.has('bomb') ? Buffer.alloc(4 * 1024 * 1024) : Buffer.from('hello, gzip');
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/plain' }).end(gzipSync(plain));
  } else if (path === '/headers') {
    res.setHeader('Set-Cookie', ['a=1', 'b=2']);
    res.setHeader('X-Multi', ['p', 'q']);
    res.setHeader('X-Upper', 'V');
    res.end();
  } else if (path === '/raw') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  } else {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') }));
  }
}

const stub = await startStub();
const other = await startStub();
after(() => {
  for (const s of [stub, other]) {
    s.server.closeAllConnections();
    s.server.close();
  }
});

let pinnedLookups = 0;
// Answers the vetted address once and a different one afterwards: if the client resolved
// again when connecting, the request would go to 10.9.9.9 and fail.
const rebindingLookup: Lookup = async (hostname) => {
  if (hostname !== 'pinned.test') return fakeLookup()(hostname);
  pinnedLookups++;
  return [{ address: pinnedLookups === 1 ? '127.0.0.1' : '10.9.9.9', family: 4 }];
};

function clientWith(limits: Partial<EgressLimits> = {}): EgressClient {
  const policy = createEgressPolicy({
    allow: ['127.0.0.1'], map: { 'api.hipchat.com': `${stub.origin}/base/` }, lookup: rebindingLookup,
  });
  return createEgressClient({ policy, limits });
}

const permittedHosts = ['127.0.0.1', '169.254.169.254', 'api.hipchat.com', 'pinned.test', ...Object.keys(fakeDns)];
const client = clientWith();
const text = (body: Uint8Array): string => Buffer.from(body).toString('utf8');
const json = (body: Uint8Array): { method: string; url: string; headers: Record<string, string>; body: string } =>
  JSON.parse(text(body));

function failsWith(code: 'EGRESS_FAILED' | 'EGRESS_DENIED', pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(isPlughostError(err, code), `expected ${code}, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  };
}

test('GET and POST round-trip method, headers and body', async () => {
  const got = await client.request({ url: `${stub.origin}/echo?x=1` }, { permittedHosts });
  assert.equal(got.status, 200);
  assert.equal(got.statusText, 'OK');
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(got.url, `${stub.origin}/echo?x=1`);
  assert.equal(got.redirected, false);
  assert.equal(json(got.body).method, 'GET');
  assert.equal(json(got.body).url, '/echo?x=1');

  const posted = await client.request({
    url: `${stub.origin}/echo`, method: 'post',
    headers: { 'Content-Type': 'application/json', 'X-Token': 'abc', Host: 'evil.test', 'Content-Length': '1' },
    body: JSON.stringify({ hello: 'wörld' }),
  }, { permittedHosts });
  const echo = json(posted.body);
  assert.equal(echo.method, 'POST');
  assert.deepEqual(JSON.parse(echo.body), { hello: 'wörld' });
  assert.equal(echo.headers['x-token'], 'abc');
  assert.equal(echo.headers['content-type'], 'application/json');
  assert.equal(echo.headers.host, `127.0.0.1:${stub.port}`, 'a plugin cannot choose the Host header');
  assert.equal(echo.headers['content-length'], String(Buffer.byteLength(echo.body)));
});

test('binary bodies pass through unchanged', async () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 255, 13, 10]);
  const res = await client.request({ url: `${stub.origin}/raw`, method: 'PUT', body: bytes }, { permittedHosts });
  assert.deepEqual([...res.body], [...bytes]);
  assert.ok(res.body instanceof Uint8Array);
});

test('response headers are lower-cased and repeated ones joined', async () => {
  const res = await client.request({ url: `${stub.origin}/headers` }, { permittedHosts });
  assert.equal(res.headers['set-cookie'], 'a=1, b=2');
  assert.equal(res.headers['x-multi'], 'p, q');
  assert.equal(res.headers['x-upper'], 'V');
  assert.ok(Object.keys(res.headers).every((k) => k === k.toLowerCase()));
});

test('gzip bodies are decoded, and a gzip bomb is cut at the decoded size', async () => {
  const res = await client.request({ url: `${stub.origin}/gzip`, headers: { 'accept-encoding': 'gzip' } }, { permittedHosts });
  assert.equal(text(res.body), 'hello, gzip');
  assert.equal(res.headers['content-encoding'], undefined);
  await assert.rejects(clientWith({ maxResponseBytes: 64 * 1024 }).request({ url: `${stub.origin}/gzip?bomb` }, { permittedHosts }),
    failsWith('EGRESS_FAILED', /over the 65536-byte limit/));
});

test('redirects are followed and every hop is checked again', async () => {
  const ok = await client.request({ url: `${stub.origin}/redirect?to=/echo` }, { permittedHosts });
  assert.equal(ok.redirected, true);
  assert.equal(ok.url, `${stub.origin}/echo`);
  assert.equal(json(ok.body).url, '/echo');

  await assert.rejects(client.request({ url: `${stub.origin}/redirect?to=http://169.254.169.254/latest/meta-data/` }, { permittedHosts }),
    failsWith('EGRESS_DENIED', /^redirect from http:\/\/127\.0\.0\.1:\d+ refused: host `169\.254\.169\.254` is a link-local address/));
  await assert.rejects(client.request({ url: `${stub.origin}/redirect?to=http://elsewhere.test/` }, { permittedHosts }),
    failsWith('EGRESS_DENIED', /host `elsewhere\.test` is not in the plugin's permissions\.hosts/));
  await assert.rejects(client.request({ url: `${stub.origin}/redirect?to=file:///etc/passwd` }, { permittedHosts }),
    failsWith('EGRESS_DENIED', /scheme `file:`/));
});

test('redirect chains stop at maxRedirects', async () => {
  const three = clientWith({ maxRedirects: 3 });
  const ok = await three.request({ url: `${stub.origin}/loop/0?stop=3` }, { permittedHosts });
  assert.equal(text(ok.body), 'end 3');
  await assert.rejects(three.request({ url: `${stub.origin}/loop/0?stop=4` }, { permittedHosts }),
    failsWith('EGRESS_FAILED', /too many redirects \(more than 3\)/));
});

test('303 turns POST into GET without a body; 307 keeps both', async () => {
  const post = { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } };
  const seeOther = await client.request({ url: `${stub.origin}/redirect?status=303&to=/echo`, ...post }, { permittedHosts });
  const after303 = json(seeOther.body);
  assert.equal(after303.method, 'GET');
  assert.equal(after303.body, '');
  assert.equal(after303.headers['content-type'], undefined);
  const temporary = await client.request({ url: `${stub.origin}/redirect?status=307&to=/echo`, ...post }, { permittedHosts });
  assert.equal(json(temporary.body).method, 'POST');
  assert.equal(json(temporary.body).body, 'payload');
});

test("redirect 'manual' returns the 3xx and 'error' refuses it", async () => {
  const manual = await client.request({ url: `${stub.origin}/redirect?to=/echo` }, { permittedHosts, redirect: 'manual' });
  assert.equal(manual.status, 302);
  assert.equal(manual.headers.location, '/echo');
  assert.equal(text(manual.body), 'moved');
  await assert.rejects(client.request({ url: `${stub.origin}/redirect?to=/echo` }, { permittedHosts, redirect: 'error' }),
    failsWith('EGRESS_FAILED', /302 redirect/));
});

test('credentials are dropped when a redirect leaves the origin, kept when it does not', async () => {
  const headers = { authorization: 'Bearer secret', cookie: 'sid=1', 'x-keep': 'yes' };
  const cross = await client.request({ url: `${stub.origin}/redirect?to=${other.origin}/echo`, headers }, { permittedHosts });
  const seen = json(cross.body).headers;
  assert.equal(seen.authorization, undefined);
  assert.equal(seen.cookie, undefined);
  assert.equal(seen['x-keep'], 'yes');
  const same = await client.request({ url: `${stub.origin}/redirect?to=/echo`, headers }, { permittedHosts });
  assert.equal(json(same.body).headers.authorization, 'Bearer secret');
});

test('oversized responses are cut with EGRESS_FAILED, with or without content-length', async () => {
  const small = clientWith({ maxResponseBytes: 64 * 1024 });
  for (const query of ['n=1000000', 'n=1000000&chunked']) {
    await assert.rejects(small.request({ url: `${stub.origin}/big?${query}` }, { permittedHosts }),
      failsWith('EGRESS_FAILED', /^response from http:\/\/127\.0\.0\.1:\d+ is over the 65536-byte limit$/));
  }
  const exact = await small.request({ url: `${stub.origin}/big?n=65536&chunked` }, { permittedHosts });
  assert.equal(exact.body.byteLength, 65536);
});

test('oversized request bodies are refused before connecting', async () => {
  const before = stub.requests;
  await assert.rejects(clientWith({ maxRequestBytes: 1024 }).request({ url: `${stub.origin}/echo`, method: 'POST', body: 'x'.repeat(1025) },
    { permittedHosts }), failsWith('EGRESS_FAILED', /request body is 1025 bytes, over the 1024-byte limit/));
  assert.equal(stub.requests, before);
});

test('a server that never answers, or stops mid-body, hits timeoutMs', async () => {
  for (const path of ['/hang', '/trickle']) {
    await assert.rejects(client.request({ url: `${stub.origin}${path}` }, { permittedHosts, timeoutMs: 200 }),
      failsWith('EGRESS_FAILED', /^request to http:\/\/127\.0\.0\.1:\d+ timed out after 200 ms$/));
  }
});

test('an AbortSignal cancels an open request and the server sees the socket close', async () => {
  const controller = new AbortController();
  const pending = client.request({ url: `${stub.origin}/hang?token=secret` }, { permittedHosts, signal: controller.signal });
  const [req] = (await once(stub.server, 'hang')) as [http.IncomingMessage];
  const closed = once(req.socket, 'close');
  controller.abort();
  await assert.rejects(pending, (err) => {
    assert.ok(isPlughostError(err, 'EGRESS_FAILED'));
    assert.equal((err.cause as Error).name, 'AbortError');
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
  await closed;
  const aborted = AbortSignal.abort();
  await assert.rejects(client.request({ url: `${stub.origin}/echo` }, { permittedHosts, signal: aborted }),
    failsWith('EGRESS_FAILED', /was aborted/));
});

test('the mapped host api.hipchat.com reaches the local server with path and query preserved', async () => {
  const res = await client.request({ url: 'https://api.hipchat.com/v2/room/1/notification?auth_token=abc&x=%20y', method: 'POST', body: '{}' },
    { permittedHosts });
  const echo = json(res.body);
  assert.equal(echo.url, '/base/v2/room/1/notification?auth_token=abc&x=%20y');
  assert.equal(echo.headers.host, `127.0.0.1:${stub.port}`);
  assert.equal(res.url, 'https://api.hipchat.com/v2/room/1/notification?auth_token=abc&x=%20y');
  await assert.rejects(client.request({ url: 'https://api.hipchat.com/v2/' }, { permittedHosts: ['127.0.0.1'] }),
    failsWith('EGRESS_DENIED', /host `api\.hipchat\.com` is not in/));
});

test('the connection goes to the vetted address, never a second DNS answer', async () => {
  const res = await client.request({ url: `http://pinned.test:${stub.port}/echo` }, { permittedHosts });
  assert.equal(pinnedLookups, 1);
  assert.equal(json(res.body).headers.host, `pinned.test:${stub.port}`);
});

test('connection failures and bad header values are EGRESS_FAILED', async () => {
  const closed = await startStub();
  closed.server.close();
  await once(closed.server, 'close');
  await assert.rejects(client.request({ url: `${closed.origin}/` }, { permittedHosts }),
    failsWith('EGRESS_FAILED', /^request to http:\/\/127\.0\.0\.1:\d+ failed: connect ECONNREFUSED/));
  await assert.rejects(client.request({ url: `${stub.origin}/echo`, headers: { 'x-bad': 'a\r\nInjected: 1' } }, { permittedHosts }),
    failsWith('EGRESS_FAILED', /Invalid character in header/));
});
