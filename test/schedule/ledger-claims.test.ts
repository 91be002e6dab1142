// The ledger's batch statements, on the store itself (both stores: PostgreSQL when
// PLUGHOST_TEST_DATABASE_URL is set, in a schema of its own): `claimBatch` claims a batch in one
// statement and applies the schedule's pause and overlap rules in it; claimers on separate
// connections at once take disjoint rows; `finishMany` records only under the caller's lease;
// `advanceMany` moves only the schedules nobody moved first.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { SKIPPED_OVERLAP, SKIPPED_PAUSED, type Occurrence } from '../../runtime/store/occurrences.ts';
import type { Schedule } from '../../runtime/store/schedules.ts';
import { createStore, type Store } from '../../runtime/store/store.ts';

const pgUrl = process.env.PLUGHOST_TEST_DATABASE_URL;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-ledger-'));
const schema = `lc_${process.pid}_${Date.now()}`;
const location = { dataDir, ...(pgUrl ? { databaseUrl: pgUrl, schema } : {}) };
const WS = 'ledger-ws';
const NOW = 1_800_000_000_000;
let store: Store;

const schedule = (id: string, over: Partial<Schedule> = {}): Schedule => ({
  id, workspaceId: WS, installationId: null, kind: 'webhook', name: null, uniqueKey: `${WS}:${id}`, spec: { url: 'https://receiver.test/hook' },
  recurrence: { type: 'interval', at: NOW } as Schedule['recurrence'], active: true, nextRunAt: null, misfire: 'coalesce', overlap: 'skip',
  maxRetries: 0, secret: null, createdAt: NOW, updatedAt: NOW, ...over,
});

let seq = 0;
const occurrence = (scheduleId: string, over: Partial<Occurrence> = {}): Occurrence => {
  const id = `occ_${String(++seq).padStart(6, '0')}`;
  return {
    id, scheduleId, workspaceId: WS, dueAt: NOW, idempotencyKey: `${scheduleId}@${id}`, trigger: 'schedule', status: 'pending', attempt: 0, failures: 0,
    availableAt: NOW, leaseOwner: null, leaseUntil: null, lastRunId: null, error: null, createdAt: NOW, finishedAt: null, ...over,
  };
};

const rowsOf = async (ids: string[]) => {
  const out = new Map<string, Occurrence>();
  for (const id of ids) out.set(id, (await store.occurrences.get(id))!);
  return out;
};

before(async () => {
  store = await createStore(location);
  await store.workspaces.create({ id: WS, name: WS, timezone: 'UTC', createdAt: 0 });
});
beforeEach(async () => {
  await store.db('occurrences').delete();
  await store.db('schedules').delete();
});
after(async () => {
  if (pgUrl) await store.db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('claimBatch claims the oldest available occurrences, at most the limit, and a lapsed lease once it has ended', async () => {
  await store.schedules.insert(schedule('s-allow', { overlap: 'allow' }));
  const rows = [
    occurrence('s-allow', { availableAt: NOW - 3000 }), occurrence('s-allow', { availableAt: NOW - 2000 }), occurrence('s-allow', { availableAt: NOW - 1000 }),
    occurrence('s-allow', { availableAt: NOW + 1000 }), // not yet available
    occurrence('s-allow', { status: 'running', attempt: 1, leaseOwner: 'dead-node', leaseUntil: NOW + 5000 }), // leased until later
  ];
  await store.occurrences.insertNew(rows);

  const first = await store.occurrences.claimBatch(NOW, 'node-a', NOW + 60_000, 2);
  assert.deepEqual(first.map((o) => o.id).sort(), [rows[0]!.id, rows[1]!.id], 'the two oldest available');
  for (const o of first) {
    assert.equal(o.status, 'running');
    assert.equal(o.leaseOwner, 'node-a');
    assert.equal(o.leaseUntil, NOW + 60_000);
    assert.equal(o.attempt, 1);
  }
  const second = await store.occurrences.claimBatch(NOW, 'node-b', NOW + 60_000, 10);
  assert.deepEqual(second.map((o) => o.id), [rows[2]!.id], 'what is left and available; the leased and the future ones stay');
  assert.deepEqual(await store.occurrences.claimBatch(NOW, 'node-b', NOW + 60_000, 10), [], 'nothing claimable twice');

  const lapsed = await store.occurrences.claimBatch(NOW + 5000, 'node-b', NOW + 65_000, 10);
  const summary = lapsed.map((o) => `${o.id} attempt ${o.attempt} ${o.leaseOwner}`).sort();
  assert.deepEqual(summary, [`${rows[3]!.id} attempt 1 node-b`, `${rows[4]!.id} attempt 2 node-b`],
    'the now available one, and the one whose lease ended (its attempt counted again)');
});

test('claimBatch applies pause and overlap in the same statement', async () => {
  await store.schedules.insert(schedule('paused', { active: false }));
  await store.schedules.insert(schedule('skip-busy', { overlap: 'skip' }));
  await store.schedules.insert(schedule('queue-busy', { overlap: 'queue' }));
  await store.schedules.insert(schedule('queue-idle', { overlap: 'queue' }));
  await store.schedules.insert(schedule('skip-idle', { overlap: 'skip' }));
  await store.schedules.insert(schedule('allow', { overlap: 'allow' }));
  const live = { status: 'running' as const, attempt: 1, leaseOwner: 'other-node', leaseUntil: NOW + 60_000, availableAt: NOW - 9000 };
  const o = {
    paused: occurrence('paused'),
    pausedManual: occurrence('paused', { trigger: 'manual', status: 'running', attempt: 1, leaseOwner: 'gone', leaseUntil: NOW - 1 }),
    skipLive: occurrence('skip-busy', live), skipPending: occurrence('skip-busy'), skipCatchUp: occurrence('skip-busy', { trigger: 'catch-up' }),
    queueLive: occurrence('queue-busy', live), queuePending: occurrence('queue-busy'),
    queueFirst: occurrence('queue-idle', { availableAt: NOW - 2000 }), queueSecond: occurrence('queue-idle', { availableAt: NOW - 1000 }),
    skipFirst: occurrence('skip-idle', { availableAt: NOW - 2000 }), skipSecond: occurrence('skip-idle', { availableAt: NOW - 1000 }),
    allowA: occurrence('allow'), allowB: occurrence('allow'),
  };
  await store.occurrences.insertNew(Object.values(o));

  const claimed = await store.occurrences.claimBatch(NOW, 'node-a', NOW + 60_000, 100);
  const by = new Map(claimed.map((x) => [x.id, x]));
  const running = (x: Occurrence) => by.get(x.id)?.status === 'running' && by.get(x.id)?.leaseOwner === 'node-a';
  assert.ok(running(o.pausedManual), 'a manual run of a paused schedule runs');
  assert.ok(running(o.queueFirst) && running(o.skipFirst), 'an idle schedule\'s first occurrence runs');
  assert.ok(running(o.allowA) && running(o.allowB), 'overlap: allow runs both');
  assert.ok(!by.has(o.skipLive.id) && !by.has(o.queueLive.id), 'live runs of other nodes are not touched');

  const after = await rowsOf(Object.values(o).map((x) => x.id));
  assert.deepEqual([after.get(o.paused.id)!.status, after.get(o.paused.id)!.error], ['skipped', SKIPPED_PAUSED]);
  assert.equal(after.get(o.paused.id)!.finishedAt, NOW);
  assert.deepEqual([after.get(o.skipPending.id)!.status, after.get(o.skipPending.id)!.error], ['skipped', SKIPPED_OVERLAP], 'skip while a run is live');
  assert.deepEqual([after.get(o.skipSecond.id)!.status, after.get(o.skipSecond.id)!.error], ['skipped', SKIPPED_OVERLAP], 'skip behind the first of the batch');
  assert.equal(after.get(o.skipCatchUp.id)!.status, 'pending', 'a catch-up is never skipped: it waits');
  assert.equal(after.get(o.queuePending.id)!.status, 'pending', 'queue waits behind a live run');
  assert.equal(after.get(o.queueSecond.id)!.status, 'pending', 'queue waits behind the first of the batch');
  assert.equal(after.get(o.queuePending.id)!.attempt, 0, 'waiting is not an attempt');
});

test('claimers on separate connections at once take disjoint batches, and every row once', async () => {
  await store.schedules.insert(schedule('many', { overlap: 'allow' }));
  const rows = Array.from({ length: 600 }, (_, i) => occurrence('many', { availableAt: NOW - 600 + i }));
  await store.occurrences.insertNew(rows);
  const claimers = await Promise.all([0, 1, 2, 3].map(() => createStore(location)));
  try {
    const got = await Promise.all(claimers.map(async (c, n) => {
      const mine: string[] = [];
      for (;;) {
        const batch = await c.occurrences.claimBatch(NOW, `node-${n}`, NOW + 60_000, 16);
        if (batch.length === 0) return mine;
        for (const x of batch) {
          assert.equal(x.leaseOwner, `node-${n}`);
          mine.push(x.id);
        }
      }
    }));
    const all = got.flat();
    assert.equal(all.length, rows.length, 'every row claimed');
    assert.equal(new Set(all).size, rows.length, 'none claimed twice');
    for (const ids of got) assert.ok(ids.length > 0, `each claimer took some (${got.map((g) => g.length).join(', ')})`);
    const attempts = await store.db('occurrences').where({ schedule_id: 'many' }).max({ a: 'attempt' }).first();
    assert.equal(Number(attempts?.a), 1, 'each claimed at attempt 1');
  } finally {
    for (const c of claimers) await c.close();
  }
});

test('finishMany records only under the caller\'s lease; advanceMany moves only what nobody moved first', async () => {
  await store.schedules.insert(schedule('f', { overlap: 'allow', nextRunAt: NOW }));
  await store.schedules.insert(schedule('g', { overlap: 'allow', nextRunAt: NOW + 1 }));
  const mine = occurrence('f', { status: 'running', attempt: 1, leaseOwner: 'node-a', leaseUntil: NOW + 60_000 });
  const theirs = occurrence('f', { status: 'running', attempt: 1, leaseOwner: 'node-b', leaseUntil: NOW + 60_000 });
  const retry = occurrence('f', { status: 'running', attempt: 1, leaseOwner: 'node-a', leaseUntil: NOW + 60_000 });
  await store.occurrences.insertNew([mine, theirs, retry]);
  const done = await store.occurrences.finishMany('node-a', [
    { id: mine.id, status: 'succeeded', failures: 0, lastRunId: 'run_1', error: null, finishedAt: NOW + 10 },
    { id: theirs.id, status: 'succeeded', failures: 0, lastRunId: 'run_2', error: null, finishedAt: NOW + 10 },
    { id: retry.id, status: 'pending', failures: 1, availableAt: NOW + 30_000, lastRunId: 'run_3', error: 'WEBHOOK_FAILED: 500', finishedAt: null },
  ]);
  assert.deepEqual([...done].sort(), [mine.id, retry.id].sort());
  const after = await rowsOf([mine.id, theirs.id, retry.id]);
  assert.deepEqual([after.get(mine.id)!.status, after.get(mine.id)!.lastRunId, after.get(mine.id)!.leaseOwner, after.get(mine.id)!.finishedAt], ['succeeded', 'run_1', null, NOW + 10]);
  assert.deepEqual([after.get(theirs.id)!.status, after.get(theirs.id)!.leaseOwner], ['running', 'node-b'], 'another node\'s lease is left alone');
  assert.deepEqual([after.get(retry.id)!.status, after.get(retry.id)!.availableAt, after.get(retry.id)!.failures, after.get(retry.id)!.error], ['pending', NOW + 30_000, 1, 'WEBHOOK_FAILED: 500']);

  const moved = await store.schedules.advanceMany([{ id: 'f', from: NOW, to: NOW + 86_400_000 }, { id: 'g', from: NOW, to: null }]);
  assert.deepEqual([...moved], ['f'], 'g was not at NOW: someone moved it first');
  assert.equal((await store.schedules.get('f'))!.nextRunAt, NOW + 86_400_000);
  assert.equal((await store.schedules.get('g'))!.nextRunAt, NOW + 1);
  const cleared = await store.schedules.advanceMany([{ id: 'g', from: NOW + 1, to: null }]);
  assert.deepEqual([...cleared], ['g']);
  assert.equal((await store.schedules.get('g'))!.nextRunAt, null, 'a schedule with no next time');
});
