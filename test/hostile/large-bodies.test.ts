// The outbound byte budgets: request and response bodies in flight count against
// `limits.outboundBytesPerInstallation` and `limits.outboundBytesHostWide`. A plugin firing
// concurrent fetches of large responses has those that grow past what is left cut off with
// PLUGIN_LIMIT naming the budget; one posting large bodies has those that do not fit refused
// before anything is sent. The bytes the host holds (the egress client's count) never pass
// the budget and go back to zero, and a neighbour in another workspace is served promptly.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { PROMPT_MS } from './harness.ts';

const MiB = 1024 * 1024;
const PER_INSTALLATION = 4 * MiB;
const HOST_WIDE = 6 * MiB;

/**
 * The far side, on loopback: `/stream/…` sends 1 MiB and `/sink/…` reads a body, and both
 * then hold the response open until the test releases them; `/signal` is how a plugin says
 * "my refusals are in"; `/quick` answers at once.
 */
class Far {
  server = http.createServer((req, res) => this.handle(req, res));
  url = '';
  held: http.ServerResponse[] = [];
  /** Held responses the host closed before they were ended: the cut-off ones. */
  cut = 0;
  sunk = 0;
  signals = 0;
  private waiters: Array<() => void> = [];

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://far').pathname;
    req.resume();
    req.on('end', () => {
      if (path.startsWith('/stream/')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let sent = 0; sent < MiB; sent += 64 * 1024) res.write(Buffer.alloc(64 * 1024, 120));
        this.hold(res);
      } else if (path.startsWith('/sink/')) {
        this.sunk++;
        this.hold(res);
      } else if (path === '/signal') {
        this.signals++;
        res.writeHead(204).end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"pong":true}');
      }
      this.changed();
    });
  }

  private hold(res: http.ServerResponse): void {
    this.held.push(res);
    res.on('close', () => {
      if (res.writableEnded) return;
      this.cut++;
      this.changed();
    });
  }

  private changed(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `ready()` holds (checked on every request and cut-off). */
  async until(ready: () => boolean): Promise<void> {
    while (!ready()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Ends every held response (a sink answers 204, a stream ends after its 1 MiB). */
  release(): void {
    for (const res of this.held.splice(0)) {
      if (res.destroyed) continue;
      if (!res.headersSent) res.writeHead(204);
      res.end();
    }
  }
}

const far = new Far();
let h: TestHost;

// Fetches /stream n times at once; answers with the sizes read and the refusals by budget.
const STREAMER = `
exports.run = function (e) {
  var n = Number(e.request.query.n), settled = 0, ok = [], refused = {}, other = [];
  for (var i = 0; i < n; i++) {
    fetch('http://far.test/stream/' + i).then(function (r) { return r.arrayBuffer(); }).then(function (b) { ok.push(b.byteLength); }, function (err) {
      if (err.code === 'PLUGIN_LIMIT') refused[err.limit] = (refused[err.limit] || 0) + 1;
      else other.push(String(err.message));
    }).then(function () { if (++settled === n) e.response.json({ ok: ok, refused: refused, other: other }); });
  }
};
`;

// Posts a 1 MiB body n times at once; once all refusals are in (n - accepted) says so on /signal.
const POSTER = `
var body = 'x'.repeat(${MiB});
exports.run = function (e) {
  var n = Number(e.request.query.n), accepted = Number(e.request.query.accepted), settled = 0, refusals = 0, ok = 0, refused = {}, other = [];
  for (var i = 0; i < n; i++) {
    fetch('http://far.test/sink/' + i, { method: 'POST', body: body }).then(function (r) { if (r.status === 204) ok++; }, function (err) {
      if (err.code === 'PLUGIN_LIMIT') {
        refused[err.limit] = (refused[err.limit] || 0) + 1;
        if (++refusals === n - accepted) fetch('http://far.test/signal');
      } else other.push(String(err.message));
    }).then(function () { if (++settled === n) e.response.json({ ok: ok, refused: refused, other: other }); });
  }
};
`;

// The neighbour: answers at once, or (fetch=1) after a small fetch of its own.
const NEIGHBOUR = `
exports.run = function (e) {
  if (!e.request.query.fetch) return e.response.json({ calm: true });
  fetch('http://far.test/quick').then(function (r) { return r.json(); }).then(function (b) { e.response.json(b); });
};
`;

before(async () => {
  far.server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => far.server.once('listening', resolve));
  far.url = `http://127.0.0.1:${(far.server.address() as AddressInfo).port}`;
  h = await startHost({
    egressMap: { 'far.test': far.url },
    limits: { outboundBytesPerInstallation: PER_INSTALLATION, outboundBytesHostWide: HOST_WIDE },
  });
  for (const [name, main] of [['streamer', STREAMER], ['poster', POSTER], ['neighbour', NEIGHBOUR]] as const) {
    const pub = await h.publish({
      'plugin.json': { name, version: '1.0.0', namespace: name, services: [{ route: 'go', main: 'go.js', access: 'public' }], permissions: { hosts: ['far.test'] }, limits: { timeoutMs: 10_000 } },
      'go.js': main,
    });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, plugins] of [['attacker', ['streamer', 'poster']], ['attacker2', ['streamer']], ['victim', ['neighbour']]] as const) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    for (const plugin of plugins) assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin })).status, 201);
  }
});
after(async () => {
  await h?.close();
  far.server.closeAllConnections();
  await new Promise<void>((resolve) => far.server.close(() => resolve()));
});

const egress = () => h.host.egress.stats();

async function go(ws: string, ns: string, query: Record<string, string> = {}): Promise<{ status: number; body: any; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/${ws}/${ns}/go?${new URLSearchParams(query)}`);
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text, ms: performance.now() - started };
}

/** Waits for the far side to reach `ready`; fails if the hostile runs answer first (they never got there). */
async function duringAttack(hostile: Array<Promise<unknown>>, ready: () => boolean, what: string): Promise<void> {
  const reached = await Promise.race([far.until(ready).then(() => true), Promise.all(hostile).then(() => ready())]);
  assert.ok(reached, `the hostile runs answered before ${what}`);
}

/** The neighbour in another workspace answers 200 promptly, five requests at once. */
async function neighbourServed(withFetch: boolean): Promise<void> {
  const results = await Promise.all(Array.from({ length: 5 }, () => go('victim', 'neighbour', withFetch ? { fetch: '1' } : {})));
  for (const r of results) {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, withFetch ? { pong: true } : { calm: true });
    assert.ok(r.ms < PROMPT_MS, `the neighbour took ${Math.round(r.ms)} ms beside the hostile runs (at most ${PROMPT_MS})`);
  }
}

/** Once every run is over (a body stays counted until it is in the isolate), nothing is held. */
async function assertReleased(): Promise<void> {
  await h.host.executor.idle();
  const stats = egress();
  assert.equal(stats.bytes, 0, 'every request gave its bytes back');
  assert.equal(stats.installations, 0);
  assert.ok(stats.peakBytes <= HOST_WIDE, `the host held ${stats.peakBytes} bytes of outbound bodies at once, over the ${HOST_WIDE}-byte budget`);
}

test('concurrent large responses of one installation: those past its budget are cut off; the neighbour still fetches', async () => {
  // Eight 1 MiB responses held open: the installation's 4 MiB fits four, and a cut-off one
  // frees what it read, so exactly four are cut off, each with PLUGIN_LIMIT.
  const cutBefore = far.cut;
  const hostile = go('attacker', 'streamer', { n: '8' });
  await duringAttack([hostile], () => far.cut >= cutBefore + 4, 'four responses were cut off');
  assert.ok(egress().bytes <= PER_INSTALLATION, `${egress().bytes} bytes held for one installation`);
  await neighbourServed(true);
  far.release();
  const res = await hostile;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { ok: [MiB, MiB, MiB, MiB], refused: { outboundBytesPerInstallation: 4 }, other: [] });
  await assertReleased();
});

test('concurrent large request bodies of one installation: those that do not fit are refused before sending', async () => {
  const sunkBefore = far.sunk;
  const signalsBefore = far.signals;
  const hostile = go('attacker', 'poster', { n: '12', accepted: '4' });
  await duringAttack([hostile], () => far.signals > signalsBefore && far.sunk >= sunkBefore + 4, 'its refusals were in');
  // Four bodies are held by the far side (they count until their requests end); the other eight never left.
  assert.equal(egress().bytes, PER_INSTALLATION);
  assert.equal(far.sunk, sunkBefore + 4);
  await neighbourServed(true);
  far.release();
  const res = await hostile;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { ok: 4, refused: { outboundBytesPerInstallation: 8 }, other: [] });
  await assertReleased();
});

test('two installations in two workspaces past the host-wide budget: the responses past it are cut off', async () => {
  // Each installation's four 1 MiB responses fit its own 4 MiB, but eight do not fit the
  // host's 6 MiB: exactly two are cut off, with PLUGIN_LIMIT naming the host-wide budget.
  const cutBefore = far.cut;
  const hostile = [go('attacker', 'streamer', { n: '4' }), go('attacker2', 'streamer', { n: '4' })];
  await duringAttack(hostile, () => far.cut >= cutBefore + 2, 'two responses were cut off');
  assert.ok(egress().bytes <= HOST_WIDE, `${egress().bytes} bytes held on the host`);
  // The host's budget is spent, so the neighbour's own fetches may be refused: it is still served at once.
  await neighbourServed(false);
  far.release();
  const results = await Promise.all(hostile);
  let ok = 0;
  let refused = 0;
  for (const res of results) {
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.other, []);
    assert.deepEqual(Object.keys(res.body.refused).filter((k) => k !== 'outboundBytesHostWide'), []);
    for (const size of res.body.ok) assert.equal(size, MiB);
    ok += res.body.ok.length;
    refused += res.body.refused.outboundBytesHostWide ?? 0;
  }
  assert.deepEqual({ ok, refused }, { ok: 6, refused: 2 });
  await assertReleased();
  // With the attack over, the neighbour fetches again.
  await neighbourServed(true);
});
