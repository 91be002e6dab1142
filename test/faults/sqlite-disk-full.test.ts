// The run recorder on a SQLite store whose disk fills up: the store's file sits on a 8 MiB tmpfs
// of the test's own, filled to the last byte. Runs recorded while it is full stay buffered
// (healthz says STORE_FULL, the backlog gauge counts them) and land once space is freed; the
// buffer bound drops the oldest runs and counts them; close() with the disk full reports the
// rest as lost. Needs root (mount); independent of PLUGHOST_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createMetrics } from '../../runtime/metrics.ts';
import { createRunRecorder } from '../../runtime/runs/recorder.ts';
import { isStoreFull } from '../../runtime/store/dialect.ts';
import { createStore, type Store } from '../../runtime/store/store.ts';
import { healthServer, makeRun, waitFor, watchCrashes } from './fixtures/faults.ts';

let dir = '';
let mounted = false;
let store: Store | undefined;
const filler = () => path.join(dir, 'filler');

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-diskfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
  mounted = true;
  store = await createStore({ dataDir: dir });
});

after(async () => {
  await store?.close();
  if (mounted) execFileSync('umount', ['-l', dir]);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes a filler file until the tmpfs has no byte left. */
function fillDisk(): void {
  const fd = fs.openSync(filler(), 'a');
  try {
    for (const size of [256 * 1024, 16 * 1024, 1024, 64, 1]) {
      const chunk = Buffer.alloc(size, 0x61);
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}
const freeDisk = () => fs.rmSync(filler(), { force: true });
/** Frees the disk and the space the test's runs took (the tmpfs holds 8 MiB). */
async function reset(): Promise<void> {
  freeDisk();
  await store!.db('runs').delete();
  await store!.db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
}
const countRuns = async (prefix: string) => Number((await store!.db('runs').where('id', 'like', `${prefix}%`).count({ n: '*' }))[0]!.n);
const bigLog = 'x'.repeat(40 * 1024); // 40 runs of 40 KiB cannot fit in the space the WAL already holds

test('runs recorded while the disk is full are kept, healthz says STORE_FULL, and they land once space is freed', async () => {
  const crashes = watchCrashes();
  const recorder = createRunRecorder(store!, { flushMs: 10, retryMinMs: 20, retryMaxMs: 200 });
  const metrics = createMetrics({ warmIsolates: () => 0, recorder: () => recorder.stats() });
  const health = await healthServer({ store: store!, metrics, recorder, now: Date.now });
  try {
    fillDisk();
    for (let i = 0; i < 40; i++) recorder.record(makeRun(`full_${String(i).padStart(3, '0')}`, bigLog));
    await recorder.flush(); // resolves although nothing can be written
    const s = recorder.stats();
    assert.equal(s.backlog, 40);
    assert.equal(s.lost, 0);
    assert.ok(s.lastError && isStoreFull({ message: s.lastError }), `last error: ${s.lastError}`);
    assert.equal(await countRuns('full_'), 0);

    const h = await health.get('/healthz');
    assert.equal(h.status, 503, h.text);
    assert.equal(h.body.error.code, 'STORE_FULL');
    assert.deepEqual(h.body.recorder, { backlog: 40, lost: 0 });
    assert.equal(h.body.store.ok, true); // reads still work: the store answers, it cannot grow
    assert.match((await health.get('/metrics')).text, /^plughost_run_recorder_backlog 40$/m);

    freeDisk();
    await waitFor('the buffered runs to land', () => recorder.stats().backlog === 0, 15_000);
    assert.equal(await countRuns('full_'), 40);
    assert.equal(recorder.stats().lastError, null);
    assert.ok(recorder.stats().lastWriteAt !== null);
    const ok = await health.get('/healthz');
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body.recorder, { backlog: 0, lost: 0 });
    await recorder.close();
    assert.equal(recorder.stats().lost, 0);
    assert.deepEqual(crashes.errors, []);
  } finally {
    await reset();
    crashes.stop();
    await health.close();
  }
});

test('the buffer bound drops the oldest runs, counts them and reports them through onLost', async () => {
  const lostReports: Array<{ count: number; err: unknown }> = [];
  const recorder = createRunRecorder(store!, {
    flushMs: 10, maxBatch: 5, maxBuffered: 10, retryMinMs: 20, retryMaxMs: 200, onLost: (count, err) => lostReports.push({ count, err }),
  });
  const metrics = createMetrics({ warmIsolates: () => 0, recorder: () => recorder.stats() });
  try {
    fillDisk();
    for (let i = 0; i < 25; i++) recorder.record(makeRun(`bound_${String(i).padStart(3, '0')}`, bigLog));
    await recorder.flush();
    await waitFor('onLost', () => lostReports.reduce((n, r) => n + r.count, 0) === 15, 2_000);
    for (const r of lostReports) metrics.runsLost.inc(r.count);
    assert.deepEqual({ backlog: recorder.stats().backlog, lost: recorder.stats().lost }, { backlog: 10, lost: 15 });
    assert.match(await metrics.registry.metrics(), /^plughost_runs_lost_total 15$/m);

    freeDisk();
    await waitFor('the kept runs to land', () => recorder.stats().backlog === 0, 15_000);
    const ids = (await store!.db('runs').where('id', 'like', 'bound_%').orderBy('id').select('id')).map((r: { id: string }) => r.id);
    // The newest ten were kept.
    assert.deepEqual(ids, Array.from({ length: 10 }, (_, i) => `bound_${String(15 + i).padStart(3, '0')}`));
    await recorder.close();
    assert.equal(recorder.stats().lost, 15);
  } finally {
    await reset();
  }
});

test('close() with the disk still full tries once more, then reports what is left as lost', async () => {
  const lostReports: Array<{ count: number; err: unknown }> = [];
  const recorder = createRunRecorder(store!, { flushMs: 10, retryMinMs: 20, retryMaxMs: 200, onLost: (count, err) => lostReports.push({ count, err }) });
  try {
    fillDisk();
    for (let i = 0; i < 30; i++) recorder.record(makeRun(`close_${String(i).padStart(3, '0')}`, bigLog));
    await recorder.close();
    assert.equal(recorder.stats().backlog, 0);
    assert.equal(recorder.stats().lost, 30);
    assert.equal(lostReports.length, 1);
    assert.equal(lostReports[0]!.count, 30);
    assert.ok(isStoreFull(lostReports[0]!.err), String(lostReports[0]!.err));
  } finally {
    await reset();
  }
});
