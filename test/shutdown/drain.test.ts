// Graceful shutdown of a real `plughost serve` process (issue 10):
//  - SIGTERM with 20 requests in flight to a slow plugin route: all 20 complete with 200 (and
//    `connection: close`), the process exits 0 after, and every one has its run in the store;
//  - a request still in flight when the drain timeout ends is cut, and the log says how many;
//  - a second signal during a long drain exits at once (code 130).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startStub, type RecordedRequest, type StubServer } from '../helpers/stub-server.ts';
import { openLedger, within } from '../schedule/fixtures/crash-child.ts';
import { api, listeningUrl, publishDir, spawnServe, type ServeProcess } from './fixtures/serve-process.ts';

const SLOWPOKE = path.join(import.meta.dirname, '../schedule/fixtures/slowpoke');
const TOKEN = 'shutdown-test-operator-token-0123456789';
const WS = 'drain';
const HOLD_MS = 1_500;
const N = 20;

let stub: StubServer;
/** Requests whose id starts with `hang` are held until the test ends. */
const held: http.ServerResponse[] = [];
const procs: ServeProcess[] = [];
const dirs: string[] = [];

before(async () => {
  stub = await startStub((req: RecordedRequest, res) => {
    if (/[?&]id=hang/.test(req.url)) { held.push(res); return; }
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('slow-ok'); }, HOLD_MS);
  });
});

after(async () => {
  for (const p of procs) await p.kill().catch(() => undefined);
  for (const res of held) res.destroy();
  await stub?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A serving host with the slowpoke plugin installed in workspace `drain`, warmed up by one call. */
async function startServing(extra: string[] = []) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-shutdown-'));
  dirs.push(dataDir);
  const p = spawnServe(['--port', '0', '--data', dataDir, '--operator-token', TOKEN, '--egress-allow', '127.0.0.1', '--egress-map', `slow.example.com=${stub.url}`, ...extra]);
  procs.push(p);
  const url = await listeningUrl(p);
  const published = await publishDir(url, TOKEN, SLOWPOKE);
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await api(url, TOKEN, 'POST', '/api/v1/workspaces', { id: WS, name: 'Drain' })).status, 201);
  const installed = await api(url, TOKEN, 'POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'slowpoke' });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  const warm = await call(url, 'warmup');
  assert.equal(warm.status, 200, warm.body);
  return { p, url, dataDir };
}

/** POST to the slow route; the plugin passes `id` on to the stub and answers once the stub has. */
function call(url: string, id: string, agent?: http.Agent): Promise<{ status: number; body: string; connection: string | undefined; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify({ scheduled: { id } });
    const req = http.request(`${url}/workspaces/${WS}/slow/work`, {
      method: 'POST', agent: agent ?? false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection, ms: Date.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const stubCallsWith = (prefix: string) => stub.requests.filter((r) => r.url.includes(`id=${prefix}`)).length;

async function until(cond: () => boolean, ms: number, what: string, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SIGTERM with 20 requests in flight: all 20 finish with 200, the process exits 0, every run is recorded', async () => {
  const { p, url, dataDir } = await startServing();
  const agent = new http.Agent({ keepAlive: true, maxSockets: N });
  const calls = Array.from({ length: N }, (_, i) => call(url, `req-${i}`, agent));
  // All 20 are inside the plugin, waiting on the stub, before the signal.
  await until(() => stubCallsWith('req-') === N, 15_000, `${N} plugin calls at the stub (saw ${stubCallsWith('req-')})`, p.output);
  const signalled = Date.now();
  p.proc.kill('SIGTERM');
  await p.waitForLine(/SIGTERM: shutting down/, 5_000);
  // New connections are refused while the in-flight ones drain.
  await until(() => /draining: waiting for \d+ in-flight/.test(p.output()), 5_000, 'the drain log line', p.output);
  await assert.rejects(fetch(`${url}/healthz`), 'a new connection during the drain is refused');

  const results = await within(Promise.all(calls), 20_000, () => `the in-flight requests did not complete${p.output()}`);
  const exit = await within(p.exited, 20_000, () => `plughost serve did not exit after the drain${p.output()}`);
  const drainMs = Date.now() - signalled;
  agent.destroy();

  assert.deepEqual(results.map((r) => r.status), Array(N).fill(200), JSON.stringify(results));
  for (const r of results) assert.equal(r.body, 'done after slow-ok');
  assert.deepEqual(results.map((r) => r.connection), Array(N).fill('close'), 'in-flight responses close their kept-alive sockets');
  assert.deepEqual(exit, { code: 0, signal: null }, p.output());
  assert.match(p.output(), /drained 20 in-flight request\(s\)/);
  assert.doesNotMatch(p.output(), /cutting/);
  assert.match(p.output(), /plughost: stopped/);
  assert.ok(drainMs < 15_000, `the drain took ${drainMs} ms`);
  console.log(`# 20/20 in-flight requests answered 200 after SIGTERM; exit ${exit.code}; signal to exit ${drainMs} ms; slowest request ${Math.max(...results.map((r) => r.ms))} ms`);

  // After the exit: the store holds a run for each of the 20 (plus the warm-up call).
  const db = openLedger(dataDir, '') // the serve child always runs on SQLite here: '' (not undefined, which picks the suite's PostgreSQL);
  try {
    const runs = await db('runs').where({ workspace_id: WS, kind: 'route' }).select('status', 'http_status', 'target');
    assert.equal(runs.length, N + 1, `runs in the store: ${JSON.stringify(runs)}`);
    assert.ok(runs.every((r: { status: string; http_status: number }) => r.status === 'succeeded' && Number(r.http_status) === 200), JSON.stringify(runs));
    console.log(`# runs recorded after exit: ${runs.length} (20 in flight + 1 warm-up), all succeeded/200`);
  } finally {
    await db.destroy();
  }
});

test('a request still in flight at the drain timeout is cut, the log says how many, and the process exits 0', async () => {
  const { p, url } = await startServing(['--drain-timeout', '1']);
  const cut = call(url, 'hang-cut').then((r) => ({ ok: true as const, r }), (err: Error) => ({ ok: false as const, err }));
  await until(() => stubCallsWith('hang-cut') === 1, 15_000, 'the hanging call at the stub', p.output);
  const signalled = Date.now();
  p.proc.kill('SIGTERM');
  const exit = await within(p.exited, 20_000, () => `plughost serve did not exit after the drain timeout${p.output()}`);
  const took = Date.now() - signalled;
  assert.deepEqual(exit, { code: 0, signal: null }, p.output());
  assert.match(p.output(), /drain timeout after 1000 ms: cutting 1 in-flight request\(s\)/);
  if (process.env.SHUTDOWN_TEST_VERBOSE) console.log(p.output());
  const outcome = await cut;
  assert.equal(outcome.ok, false, 'the cut request gets no answer (its connection is destroyed)');
  assert.ok(took >= 1_000, `exited ${took} ms after the signal, not before the drain timeout`);
  assert.ok(took < 10_000, `exited ${took} ms after the signal`);
  console.log(`# drain timeout 1 s: 1 request cut, exit ${exit.code} ${took} ms after SIGTERM`);
});

test('a second signal during a long drain exits at once', async () => {
  const { p, url } = await startServing(['--drain-timeout', '60']);
  const hanging = call(url, 'hang-second').catch(() => undefined);
  await until(() => stubCallsWith('hang-second') === 1, 15_000, 'the hanging call at the stub', p.output);
  p.proc.kill('SIGTERM');
  await p.waitForLine(/draining: waiting for 1 in-flight/, 5_000);
  assert.equal(p.proc.exitCode, null, 'still draining after the first signal');
  const second = Date.now();
  p.proc.kill('SIGINT');
  const exit = await within(p.exited, 5_000, () => `plughost serve did not exit at once on the second signal${p.output()}`);
  const took = Date.now() - second;
  assert.deepEqual(exit, { code: 130, signal: null }, p.output());
  assert.match(p.output(), /SIGINT again: exiting now/);
  assert.ok(took < 3_000, `exited ${took} ms after the second signal`);
  await hanging;
  console.log(`# second signal: exit ${exit.code} ${took} ms after it (drain timeout 60 s)`);
});
