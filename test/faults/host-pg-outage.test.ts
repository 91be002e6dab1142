// A real `plughost serve` process whose store is a fresh database on the fault tests' own
// PostgreSQL cluster (fixtures/pg-cluster.ts, port 5439; the shared server on 5432 is never
// touched). With 8 scheduled webhook runs in flight (the slowpoke route waits ~1.5 s on a loopback
// stub), the cluster is crashed (`-m immediate`), kept down ~2 s, and started again. Meanwhile 5
// route calls go straight to the warm plugin. The host process must stay up, /healthz must come
// back to 200, every schedule's first slot must end with exactly one succeeded occurrence (a
// finish lost in the outage may be retried after its 90 s lease), no occurrence key may have two
// succeeded runs, and every route call that was answered must have its run in the store.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { api, listeningUrl, publishDir, spawnServe, type ServeProcess } from '../shutdown/fixtures/serve-process.ts';
import { waitFor } from './fixtures/faults.ts';
import { FAULTS_CLUSTER, FAULTS_URL, faultsClusterAnswers, startFaultsCluster, stopFaultsCluster } from './fixtures/pg-cluster.ts';

const SLOWPOKE = path.join(import.meta.dirname, '../schedule/fixtures/slowpoke');
const TOKEN = 'faults-outage-operator-token-0123456789';
const WS = 'outage';
const HOLD_MS = 1_500;
const SCHEDULES = 8;
const CALLS = 5;
const DB = `plughost_outage_${process.pid}_${Date.now()}`;
const DB_URL = `postgres://postgres@127.0.0.1:${FAULTS_CLUSTER.port}/${DB}`;

let stub: StubServer;
let serve: ServeProcess | undefined;
let dataDir: string;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

before(async () => {
  stub = await startStub((_req, res) => {
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('slow-ok'); }, HOLD_MS);
  });
  await startFaultsCluster();
  await withClient(FAULTS_URL, (c) => c.query(`CREATE DATABASE "${DB}"`));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-pgoutage-'));
});

after(async () => {
  await serve?.kill().catch(() => undefined);
  await stub?.close();
  try {
    if (await faultsClusterAnswers()) await withClient(FAULTS_URL, (c) => c.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`)).catch(() => undefined);
  } finally {
    stopFaultsCluster('fast');
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

function call(url: string, id: string): Promise<{ status: number; body: string; runId: string | undefined }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify({ scheduled: { id } });
    const req = http.request(`${url}/workspaces/${WS}/slow/work`, {
      method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, runId: res.headers['x-plughost-run'] as string | undefined }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const alive = (p: ServeProcess) => p.proc.exitCode === null && p.proc.signalCode === null;

test('PostgreSQL crashes under a serving host with 8 scheduled runs in flight: the host survives and recovers, no run is lost or doubled', { timeout: 300_000 }, async () => {
  const p = spawnServe(['--port', '0', '--data', dataDir, '--database-url', DB_URL, '--operator-token', TOKEN,
    '--egress-allow', '127.0.0.1', '--egress-map', `slow.example.com=${stub.url}`]);
  serve = p;
  let exitedEarly: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void p.exited.then((e) => { exitedEarly = e; });

  const url = await listeningUrl(p);
  const published = await publishDir(url, TOKEN, SLOWPOKE);
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await api(url, TOKEN, 'POST', '/api/v1/workspaces', { id: WS, name: 'Outage' })).status, 201);
  const installed = await api(url, TOKEN, 'POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'slowpoke' });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  const warm = await call(url, 'warmup');
  assert.equal(warm.status, 200, warm.body);
  const afterWarm = stub.requests.length;

  const scheduleIds: string[] = [];
  for (let i = 0; i < SCHEDULES; i++) {
    const created = await api(url, TOKEN, 'POST', `/api/v1/workspaces/${WS}/scheduled-webhooks`, {
      url: `/workspaces/${WS}/slow/work`, frequency: 'daily', retries: 3, description: `outage ${i}`,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    scheduleIds.push(created.body.id);
  }

  // All 8 scheduled runs are inside the plugin, waiting on the stub.
  await waitFor(`${SCHEDULES} scheduled calls at the stub (saw ${stub.requests.length - afterWarm})`, () => stub.requests.length - afterWarm >= SCHEDULES, 30_000, 20);
  assert.ok(alive(p), `host alive before the crash${p.output()}`);

  // Crash the cluster; while it is down, call the warm route directly.
  stopFaultsCluster('immediate');
  const crashedAt = Date.now();
  const calls = Array.from({ length: CALLS }, (_, i) => call(url, `outage-${i}`).then((r) => ({ ok: true as const, ...r }), (err: Error) => ({ ok: false as const, err: String(err) })));
  await new Promise((r) => setTimeout(r, 2_000));
  assert.ok(alive(p), `host alive while the database is down${p.output()}`);
  await startFaultsCluster();
  const restartedAt = Date.now();

  const results = await Promise.race([
    Promise.all(calls),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`route calls did not settle${p.output()}`)), 30_000)),
  ]);
  console.log(`# route calls during the outage: ${results.map((r) => (r.ok ? r.status : `error ${r.err}`)).join(', ')}`);

  // /healthz comes back.
  let lastHealth = 0;
  await waitFor('/healthz to return 200 after the restart', async () => {
    lastHealth = (await fetch(`${url}/healthz`)).status;
    return lastHealth === 200;
  }, 60_000, 200).catch((err: Error) => { throw new Error(`${err.message} (last status ${lastHealth})${p.output()}`); });
  const recoverMs = Date.now() - restartedAt;
  console.log(`# /healthz 200 again ${recoverMs} ms after the cluster restart (${Date.now() - crashedAt} ms after the crash)`);
  assert.ok(alive(p), `host alive after the restart${p.output()}`);

  // Route calls answered during the outage: 200 from the warm plugin, each with its run id.
  const answered = results.filter((r) => r.ok);
  assert.deepEqual(results.map((r) => (r.ok ? r.status : 'error')), Array(CALLS).fill(200), JSON.stringify(results));
  for (const r of answered) assert.ok(r.runId, 'answered call carries x-plughost-run');

  // Settle: every schedule's first slot has exactly one succeeded occurrence, answered runs are stored.
  type Snap = { firstSlots: Array<{ schedule_id: string; n: number; statuses: string }>; byStatus: Record<string, number>; doubled: unknown[]; runsFound: number };
  const snapshot = () => withClient(DB_URL, async (c): Promise<Snap> => {
    const firstSlots = (await c.query(`
      SELECT o.schedule_id, count(*)::int AS n, string_agg(o.status, ',' ORDER BY o.status) AS statuses
        FROM occurrences o
        JOIN (SELECT schedule_id, min(due_at) AS due_at FROM occurrences WHERE schedule_id = ANY($1) GROUP BY schedule_id) f
          ON f.schedule_id = o.schedule_id AND f.due_at = o.due_at
       GROUP BY o.schedule_id`, [scheduleIds])).rows;
    const byStatus: Record<string, number> = {};
    for (const row of (await c.query(`SELECT status, count(*)::int AS n FROM occurrences WHERE schedule_id = ANY($1) GROUP BY status`, [scheduleIds])).rows) byStatus[row.status] = row.n;
    const doubled = (await c.query(`SELECT idempotency_key, count(*)::int AS n FROM runs WHERE idempotency_key IS NOT NULL AND status = 'succeeded' GROUP BY idempotency_key HAVING count(*) > 1`)).rows;
    const ids = answered.map((r) => r.runId!);
    const runsFound = Number((await c.query(`SELECT count(*)::int AS n FROM runs WHERE id = ANY($1)`, [ids])).rows[0].n);
    return { firstSlots, byStatus, doubled, runsFound };
  });
  const settleStarted = Date.now();
  let snap: Snap | undefined;
  const settled = (s: Snap) => s.firstSlots.length === SCHEDULES && s.firstSlots.every((f) => f.n === 1 && f.statuses === 'succeeded') && s.runsFound === answered.length;
  await waitFor('the store to settle', async () => {
    snap = await snapshot();
    return settled(snap);
  }, 150_000, 1_000).catch(() => undefined);
  const settleMs = Date.now() - settleStarted;
  console.log(`# after ${settleMs} ms of settling: occurrences by status ${JSON.stringify(snap?.byStatus)}; first slots ${JSON.stringify(snap?.firstSlots)}`);
  console.log(`# route runs found in the store: ${snap?.runsFound}/${answered.length}; occurrence keys with >1 succeeded run: ${snap?.doubled.length}`);
  console.log(`# stub saw ${stub.requests.length - afterWarm} calls after the warm-up (${SCHEDULES} scheduled + ${CALLS} direct expected, more if a run was retried)`);

  const faultLog = new Map<string, number>();
  for (const line of p.output().split('\n')) {
    try {
      const j = JSON.parse(line) as { level?: number; msg?: string };
      if ((j.level ?? 0) >= 40) faultLog.set(`${j.level} ${j.msg}`, (faultLog.get(`${j.level} ${j.msg}`) ?? 0) + 1);
    } catch { /* not a log line */ }
  }
  console.log(`# host warnings/errors logged: ${JSON.stringify(Object.fromEntries(faultLog))}`);

  assert.ok(snap, 'the database could be queried after the restart');
  assert.ok(alive(p), `host alive at the end${p.output()}`);
  assert.equal(exitedEarly, undefined, `host process exited: ${JSON.stringify(exitedEarly)}${p.output()}`);
  assert.equal(snap.firstSlots.length, SCHEDULES, `every schedule has its first slot: ${JSON.stringify(snap.firstSlots)}`);
  for (const f of snap.firstSlots) assert.deepEqual({ n: f.n, statuses: f.statuses }, { n: 1, statuses: 'succeeded' }, `schedule ${f.schedule_id}`);
  assert.deepEqual(snap.doubled, [], 'no occurrence key has two succeeded runs');
  assert.equal(snap.runsFound, answered.length, `every answered route call has its run in the store${p.output()}`);
});
