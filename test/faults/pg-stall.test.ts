// A stalled connection: a TCP proxy of the test's own in front of the shared PostgreSQL (5432)
// that, when told, stops forwarding bytes in both directions without closing any socket (a
// frozen server, a black-holed network path). A query through it fails within the store's
// query timeout instead of hanging; the stuck connection is thrown away, so once the proxy
// forwards again, new queries succeed. Runs in a fresh database of its own on the server at
// PLUGHOST_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test), dropped afterwards;
// independent of PLUGHOST_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createRunRecorder } from '../../runtime/runs/recorder.ts';
import { isConnectionError, PG_QUERY_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS } from '../../runtime/store/dialect.ts';
import { createStore, type Store } from '../../runtime/store/store.ts';
import { DEFAULT_PG_URL, freshDatabase } from '../cluster/fixtures/pg.ts';
import { makeRun, waitFor, within, watchCrashes } from './fixtures/faults.ts';

interface StallProxy { port: number; stall(): void; resume(): void; close(): Promise<void> }

/** Forwards 127.0.0.1:<port> to `target`; stall() stops reading from both sides of every connection, old and new. */
async function stallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let stalled = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      if (stalled) s.pause();
    }
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    stall() { stalled = true; for (const s of sockets) s.pause(); },
    resume() { stalled = false; for (const s of sockets) s.resume(); },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const QUERY_MS = 1_500;
let db: { url: string; drop(): Promise<void> } | undefined;
let proxy: StallProxy | undefined;
let store: Store | undefined;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-pgstall-'));

before(async () => {
  db = await freshDatabase(process.env.PLUGHOST_TEST_PG_URL || DEFAULT_PG_URL, 'plughost_faults_stall');
  const direct = new URL(db.url);
  proxy = await stallProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const viaProxy = new URL(db.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  store = await createStore({ databaseUrl: viaProxy.toString(), dataDir, timeouts: { queryMs: QUERY_MS, statementMs: 1_000, connectMs: 1_000, acquireMs: 2_000 } });
});

after(async () => {
  await store?.close();
  await proxy?.close();
  await db?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the default timeouts are bounded: a query fails client side after 15 s, the server cancels a statement first', () => {
  assert.equal(PG_QUERY_TIMEOUT_MS, 15_000);
  assert.ok(PG_STATEMENT_TIMEOUT_MS > 0 && PG_STATEMENT_TIMEOUT_MS < PG_QUERY_TIMEOUT_MS);
});

test('a query over a stalled connection fails within the query timeout, and new queries succeed once bytes flow again', async () => {
  const crashes = watchCrashes();
  try {
    // Warm: pooled connections through the proxy.
    await Promise.all(Array.from({ length: 4 }, () => store!.db.raw('select pg_sleep(0.05)')));
    await store!.runs.insertMany([makeRun('stall_before')]);

    proxy!.stall();
    const started = Date.now();
    const failure = await within(QUERY_MS + 4_000, 'a query over the stalled connection', store!.db.raw('select 1').then(() => null, (err: unknown) => err));
    const took = Date.now() - started;
    assert.ok(failure, 'the query failed');
    assert.ok(isConnectionError(failure), `a connection error: ${String(failure)}`);
    assert.ok(took >= QUERY_MS - 100 && took < QUERY_MS + 2_500, `failed after ${took} ms`);
    // The store says so, and the recorder's flush does not hang either.
    await assert.rejects(within(QUERY_MS + 4_000, 'ping while stalled', store!.ping()), { code: 'STORE_UNAVAILABLE' });
    const recorder = createRunRecorder(store!, { flushMs: 10, retryMinMs: 50, retryMaxMs: 300 });
    for (let i = 0; i < 5; i++) recorder.record(makeRun(`stall_during_${i}`));
    await within(QUERY_MS + 4_000, 'flush while stalled', recorder.flush());
    assert.equal(recorder.stats().backlog, 5);

    proxy!.resume();
    await waitFor('a ping to succeed after the proxy resumes', async () => { await within(QUERY_MS + 1_000, 'ping', store!.ping()); return true; }, 15_000, 100);
    const answers = await within(QUERY_MS + 2_000, 'queries after resuming', Promise.all(Array.from({ length: 6 }, (_, i) => store!.db.raw('select ?::int as n', [i]))));
    assert.deepEqual(answers.map((r: { rows: Array<{ n: number }> }) => r.rows[0]!.n), [0, 1, 2, 3, 4, 5]);
    await waitFor('the runs recorded while stalled to land', () => recorder.stats().backlog === 0, 10_000);
    assert.equal(Number((await store!.db('runs').where('id', 'like', 'stall_%').count({ n: '*' }))[0]!.n), 6);
    await recorder.close();
    assert.equal(recorder.stats().lost, 0);
    assert.deepEqual(crashes.errors, []);
  } finally {
    proxy!.resume();
    crashes.stop();
  }
});
