// The run recorder and the store on a PostgreSQL server that crashes and comes back: a cluster
// of this test's own (fixtures/pg-cluster.ts, port 5439) is stopped with `-m immediate` while
// the store holds pooled connections, runs are recorded during the outage, and the cluster is
// started again. flush() never hangs, healthz says STORE_UNAVAILABLE while it is down, every run
// recorded during the outage is written afterwards, and nothing crashes (no unhandled 'error'
// from idle pg clients, no unhandled rejection). Independent of PLUGHOST_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createMetrics } from '../../runtime/metrics.ts';
import { createRunRecorder } from '../../runtime/runs/recorder.ts';
import { isConnectionError } from '../../runtime/store/dialect.ts';
import { createStore, type Store } from '../../runtime/store/store.ts';
import { healthServer, makeRun, waitFor, within, watchCrashes } from './fixtures/faults.ts';
import { FAULTS_URL, faultsClusterAnswers, startFaultsCluster, stopFaultsCluster } from './fixtures/pg-cluster.ts';

const schema = `faults_${process.pid}_${Date.now()}`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-pgrestart-'));
let store: Store | undefined;

before(async () => {
  await startFaultsCluster();
  store = await createStore({ databaseUrl: FAULTS_URL, dataDir, schema, timeouts: { queryMs: 3_000, statementMs: 2_500, connectMs: 2_000, acquireMs: 3_000 } });
});

after(async () => {
  try {
    if (store && await faultsClusterAnswers()) await store.db.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await store?.close();
    stopFaultsCluster('fast');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

const countRuns = async (prefix: string) => Number((await store!.db('runs').where('id', 'like', `${prefix}%`).count({ n: '*' }))[0]!.n);

test('runs recorded while PostgreSQL is down are all written once it is back; nothing crashes', async () => {
  const crashes = watchCrashes();
  const errors: unknown[] = [];
  const recorder = createRunRecorder(store!, { flushMs: 10, retryMinMs: 50, retryMaxMs: 500, onError: (err) => errors.push(err) });
  const metrics = createMetrics({ warmIsolates: () => 0, recorder: () => recorder.stats() });
  const health = await healthServer({ store: store!, metrics, recorder, now: Date.now });
  try {
    // Before: several pooled connections open, runs land.
    await Promise.all(Array.from({ length: 5 }, () => store!.db.raw('select pg_sleep(0.05)')));
    for (let i = 0; i < 20; i++) recorder.record(makeRun(`before_${String(i).padStart(3, '0')}`));
    await recorder.flush();
    assert.equal(await countRuns('before_'), 20);
    assert.equal((await health.get('/healthz')).status, 200);

    // The server crashes under idle pooled connections.
    stopFaultsCluster('immediate');
    for (let i = 0; i < 30; i++) recorder.record(makeRun(`during_${String(i).padStart(3, '0')}`));
    await within(10_000, 'flush() with the server down', recorder.flush());
    assert.equal(recorder.stats().backlog, 30);
    assert.ok(recorder.stats().lastError, 'the failure is recorded');
    assert.ok(errors.length > 0 && errors.every(isConnectionError), `connection errors: ${errors.map(String).join('; ')}`);
    await assert.rejects(within(10_000, 'ping with the server down', store!.ping()), { code: 'STORE_UNAVAILABLE' });
    const down = await within(10_000, 'healthz with the server down', health.get('/healthz'));
    assert.equal(down.status, 503, down.text);
    assert.equal(down.body.error.code, 'STORE_UNAVAILABLE');
    assert.deepEqual(down.body.recorder, { backlog: 30, lost: 0 });
    // More runs while it stays down.
    for (let i = 30; i < 40; i++) recorder.record(makeRun(`during_${String(i).padStart(3, '0')}`));

    await startFaultsCluster();
    await waitFor('the runs recorded during the outage to land', () => recorder.stats().backlog === 0, 30_000);
    assert.equal(await countRuns('during_'), 40);
    assert.equal(await countRuns('before_'), 20);
    assert.equal(recorder.stats().lost, 0);
    assert.equal(recorder.stats().lastError, null);
    await waitFor('healthz to answer 200', async () => (await health.get('/healthz')).status === 200, 10_000);
    await recorder.close();
    assert.deepEqual(crashes.errors, []);
  } finally {
    crashes.stop();
    await health.close();
  }
});
