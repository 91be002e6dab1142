// The egress client's byte budgets against a real HTTP server on 127.0.0.1: request bodies
// count when accepted (one that does not fit is refused before anything is sent), response
// bodies as they are read (one that grows past what is left is cut off), per installation
// and host-wide, named in PLUGIN_LIMIT; every way a request ends gives its bytes back; many
// requests on one shared signal leave it a single abort listener.
import assert from 'node:assert/strict';
import { getEventListeners, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { createEgressClient, createEgressPolicy, type EgressClient } from '../../runtime/egress/index.ts';
import { isPlughostError } from '../../runtime/errors.ts';

const KiB = 1024;
const PER_INSTALLATION = 1024 * KiB;
const HOST_WIDE = 1536 * KiB;

/** Requests the server holds open: answered (or ended) when the test says. */
const held: http.ServerResponse[] = [];
let arrived = 0;
/** Held responses the client closed before the server ended them. */
let cut = 0;
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://stub');
  res.on('close', () => {
    if (res.writableEnded) return;
    cut++;
    server.emit('cut');
  });
  req.resume();
  req.on('end', () => {
    arrived++;
    if (url.pathname === '/hold') {
      held.push(res);
      server.emit('held', held.length);
    } else if (url.pathname === '/stream' || url.pathname === '/big') {
      // Chunked (no content-length): the client learns the size only as it reads.
      const n = Number(url.searchParams.get('n'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let sent = 0; sent < n; sent += 16 * KiB) res.write(Buffer.alloc(Math.min(16 * KiB, n - sent), 120));
      if (url.pathname === '/big') res.end();
      else {
        held.push(res);
        server.emit('held', held.length);
      }
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    }
  });
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.closeAllConnections();
  server.close();
});

const permittedHosts = ['127.0.0.1'];
const newClient = (): EgressClient => createEgressClient({
  policy: createEgressPolicy({ allow: ['127.0.0.1'], map: {} }),
  budgets: { outboundBytesPerInstallation: PER_INSTALLATION, outboundBytesHostWide: HOST_WIDE },
});

function waitHeld(n: number): Promise<void> {
  if (held.length >= n) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (count: number): void => {
      if (count < n) return;
      server.off('held', on);
      resolve();
    };
    server.on('held', on);
  });
}

function waitCut(n: number): Promise<void> {
  if (cut >= n) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (): void => {
      if (cut < n) return;
      server.off('cut', on);
      resolve();
    };
    server.on('cut', on);
  });
}

function answerHeld(): void {
  for (const res of held.splice(0)) {
    if (!res.headersSent) res.writeHead(204);
    res.end();
  }
}

function limitError(limit: string, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(isPlughostError(err, 'PLUGIN_LIMIT'), `expected PLUGIN_LIMIT, got ${String(err)}`);
    assert.equal((err.details as { limit?: string } | undefined)?.limit, limit);
    assert.equal(err.status, 429);
    if (message) assert.match(err.message, message);
    return true;
  };
}

const post = (bytes: number) => ({ url: `${origin}/hold`, method: 'POST', body: new Uint8Array(bytes) });

test('request bodies count when accepted: past either budget a request is refused before anything is sent', async () => {
  const client = newClient();
  const a1 = client.request(post(600 * KiB), { permittedHosts, installationId: 'a' });
  await waitHeld(1);
  const before = arrived;
  await assert.rejects(client.request(post(600 * KiB), { permittedHosts, installationId: 'a' }),
    limitError('outboundBytesPerInstallation', /^request to http:\/\/127\.0\.0\.1:\d+ refused: 614400 more bytes would pass the 1048576-byte budget .* for this installation/));
  const b1 = client.request(post(600 * KiB), { permittedHosts, installationId: 'b' });
  await waitHeld(2);
  assert.deepEqual(client.stats(), { bytes: 1200 * KiB, peakBytes: 1200 * KiB, installations: 2 });
  await assert.rejects(client.request(post(400 * KiB), { permittedHosts, installationId: 'c' }),
    limitError('outboundBytesHostWide', /on this host/));
  // The host's own sends (no installation) count host-wide only.
  await assert.rejects(client.request(post(400 * KiB), { permittedHosts }), limitError('outboundBytesHostWide'));
  const own = client.request(post(300 * KiB), { permittedHosts });
  await waitHeld(3);
  assert.equal(arrived, before + 2, 'the refused requests never reached the server');
  assert.deepEqual(client.stats(), { bytes: 1500 * KiB, peakBytes: 1500 * KiB, installations: 2 });
  answerHeld();
  for (const res of await Promise.all([a1, b1, own])) assert.equal(res.status, 204);
  assert.deepEqual(client.stats(), { bytes: 0, peakBytes: 1500 * KiB, installations: 0 });
});

test('a response that grows past what is left is cut off with PLUGIN_LIMIT naming the budget', async () => {
  const client = newClient();
  await assert.rejects(client.request({ url: `${origin}/big?n=${2 * PER_INSTALLATION}` }, { permittedHosts, installationId: 'a' }),
    limitError('outboundBytesPerInstallation', /^response from http:\/\/127\.0\.0\.1:\d+ cut off after \d+ bytes: /));
  assert.equal(client.stats().bytes, 0);
  await assert.rejects(client.request({ url: `${origin}/big?n=${2 * PER_INSTALLATION}` }, { permittedHosts }),
    limitError('outboundBytesHostWide'));
  assert.equal(client.stats().bytes, 0);
  assert.ok(client.stats().peakBytes <= HOST_WIDE);
  // What fits is read whole, and given back once the request is over.
  const ok = await client.request({ url: `${origin}/big?n=${PER_INSTALLATION}` }, { permittedHosts, installationId: 'a' });
  assert.equal(ok.body.byteLength, PER_INSTALLATION);
  const { bytes, peakBytes, installations } = client.stats();
  assert.deepEqual({ bytes, installations }, { bytes: 0, installations: 0 });
  assert.ok(peakBytes >= PER_INSTALLATION && peakBytes <= HOST_WIDE, `peak ${peakBytes}`);
});

test('concurrent responses of one installation: the budget is shared, cut-off ones give their bytes back', async () => {
  const client = newClient();
  // Four streams of 400 KiB, all held open by the server: whichever chunk would pass the
  // installation's 1 MiB cuts its stream off and frees what it held, until the two that fit
  // are left (three never fit at once; any cut-off happens only while three are open).
  const cutBefore = cut;
  const calls = Array.from({ length: 4 }, () => client.request({ url: `${origin}/stream?n=${400 * KiB}` }, { permittedHosts, installationId: 'a' })
    .then(() => 'ok', (err: unknown) => {
      assert.ok(isPlughostError(err, 'PLUGIN_LIMIT'), String(err));
      return (err.details as { limit: string }).limit;
    }));
  await waitCut(cutBefore + 2);
  assert.ok(client.stats().bytes <= PER_INSTALLATION);
  answerHeld();
  const outcomes = await Promise.all(calls);
  assert.equal(outcomes.filter((o) => o === 'ok').length, 2, outcomes.join());
  assert.equal(outcomes.filter((o) => o === 'outboundBytesPerInstallation').length, 2, outcomes.join());
  assert.equal(client.stats().bytes, 0);
  assert.ok(client.stats().peakBytes <= PER_INSTALLATION);
});

test('every way a request ends gives its bytes back: success, error, abort, timeout, refusal by the policy', async () => {
  const client = newClient();
  const ok = client.request(post(100 * KiB), { permittedHosts, installationId: 'a' });
  await waitHeld(1);
  assert.equal(client.stats().bytes, 100 * KiB);
  answerHeld();
  assert.equal((await ok).status, 204);
  assert.equal(client.stats().bytes, 0);
  // A connection refused.
  const closed = http.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadPort = (closed.address() as AddressInfo).port;
  closed.close();
  await assert.rejects(client.request({ url: `http://127.0.0.1:${deadPort}/`, method: 'POST', body: new Uint8Array(100 * KiB) },
    { permittedHosts, installationId: 'a' }), (err: unknown) => isPlughostError(err, 'EGRESS_FAILED'));
  assert.equal(client.stats().bytes, 0);
  // Not permitted: refused by the policy, nothing held.
  await assert.rejects(client.request({ url: 'http://127.0.0.1:1/', method: 'POST', body: new Uint8Array(100 * KiB) },
    { permittedHosts: ['elsewhere.test'], installationId: 'a' }), (err: unknown) => isPlughostError(err, 'EGRESS_DENIED'));
  assert.equal(client.stats().bytes, 0);
  // Aborted by the caller mid-body: the bytes are back at once, before the request has settled.
  const controller = new AbortController();
  const aborted = client.request({ url: `${origin}/stream?n=${200 * KiB}` }, { permittedHosts, installationId: 'a', signal: controller.signal });
  await waitHeld(1);
  controller.abort();
  assert.deepEqual(client.stats().bytes, 0);
  await assert.rejects(aborted, /was aborted/);
  answerHeld();
  // Timed out with a request body sent and part of the response read.
  const timedOut = client.request({ url: `${origin}/stream?n=${200 * KiB}`, method: 'POST', body: new Uint8Array(100 * KiB) },
    { permittedHosts, installationId: 'a', timeoutMs: 300 });
  await assert.rejects(timedOut, /timed out after 300 ms/);
  answerHeld();
  assert.equal(client.stats().bytes, 0);
  assert.equal(client.stats().installations, 0);
});

test('requests sharing one signal (a run\'s) leave it exactly one abort listener, however many', async () => {
  const client = newClient();
  const N = 200;
  const controller = new AbortController();
  const calls = Array.from({ length: N }, () => client.request({ url: `${origin}/hold` }, { permittedHosts, installationId: 'a', signal: controller.signal }));
  await waitHeld(N);
  assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
  controller.abort();
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  for (const outcome of await Promise.allSettled(calls)) {
    assert.equal(outcome.status, 'rejected');
    assert.match(String((outcome as PromiseRejectedResult).reason.message), /was aborted/);
  }
  answerHeld();
  // Requests that end normally take their entry away too: the signal is left with no listener.
  const done = new AbortController();
  await Promise.all(Array.from({ length: 20 }, () => client.request({ url: `${origin}/echo` }, { permittedHosts, signal: done.signal })));
  assert.equal(getEventListeners(done.signal, 'abort').length, 0);
});
