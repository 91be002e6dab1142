// Scale-out on PostgreSQL (SPEC §8 "any number of host processes share the database … each
// occurrence still runs once. Killing a process mid-run loses nothing", §5 "claimed once,
// cluster-wide … a crashed run is retried after its lease runs out"). Three real host
// processes (test/schedule/fixtures/host-process.ts, virtual clocks moved together) share ONE
// database and schema; 2,000 one-time plugin schedules fall due over five virtual seconds.
// Every run asks a stub; the stub holds the answers to the third host, which is SIGKILLed
// while it holds runs, before most occurrences are even due. The ledger must end with every
// occurrence succeeded by exactly one successful run; the dead host's occurrences are not
// touched while their lease holds and then run again on a survivor (same idempotency key,
// trigger `retry`, attempt 2); and the work is spread over the nodes.
// Needs PostgreSQL in both passes of `npm test` (see fixtures/pg.ts); it fails without it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type http from 'node:http';
import type { Knex } from 'knex';
import { defaults } from '../../runtime/options.ts';
import type { Store } from '../../runtime/store/store.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { openLedger, within, type HostChild } from '../schedule/fixtures/crash-child.ts';
import {
  insertSchedules, oneTimeSchedules, openClusterStore, probePlugin, setClocks, setUpPlugin, startCluster, STUB_HOST, type Installed,
} from './fixtures/cluster.ts';
import { pgSpace, type PgSpace } from './fixtures/pg.ts';

const COUNT = 2_000;
const START = Date.parse('2030-01-01T00:00:00Z');
/** The first due second; occurrence i is due at DUE0 + (i % 5) s. */
const DUE0 = START + 60_000;
const SECONDS = 5;
const dueOf = (i: number) => DUE0 + (i % SECONDS) * 1000;
/** The lease a claim takes (host.ts): the longest plugin time limit plus the margin. */
const LEASE_MS = defaults.sandbox.maxTimeoutMs + defaults.schedules.leaseMarginMs;
const VICTIM = 2;

let space: PgSpace;
let stub: StubServer;
let store: Store | undefined;
let ledger: Knex | undefined;
let nodes: HostChild[] = [];
/** Answers the stub holds: the dead host's in-flight runs. */
const held: Array<{ key: string; res: http.ServerResponse }> = [];
let heldWaiter: (() => void) | undefined;

const keyOf = (url: string) => new URL(url, 'http://x').searchParams.get('key') ?? '';
const nodeOfPath = (url: string) => Number(/^\/n(\d+)\//.exec(url)?.[1] ?? -1);

before(async () => {
  space = await pgSpace('cluster');
  stub = await startStub((req, res) => {
    if (nodeOfPath(req.url) === VICTIM) {
      held.push({ key: keyOf(req.url), res });
      heldWaiter?.();
      return; // never answered: the run stays in flight until its process dies
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  // One after another: started at once on an empty schema they race (startup-race.test.ts).
  nodes = await startCluster({
    nodes: 3, dataDir: space.dataDir, databaseUrl: space.url, startMs: START,
    perNode: (i) => ({ egressMap: { [STUB_HOST]: `${stub.url}/n${i}` } }),
  });
  store = await openClusterStore(space.url, space.dataDir, space.schema);
  ledger = openLedger(space.dataDir, space.url);
});

after(async () => {
  for (const n of nodes) await n.kill().catch(() => undefined);
  for (const h of held) h.res.destroy();
  await stub?.close();
  await store?.close();
  await ledger?.destroy();
  await space?.drop();
});

interface Fired { scheduleId: string; occurrenceId: string; idempotencyKey: string; trigger: string; attempt: number }
interface Finished { occurrenceId: string; idempotencyKey: string; status: string; runId: string | null; attempt: number }
/** The `schedule:fired` events a node forwarded (optionally of one attempt). */
const fired = (n: HostChild, attempt?: number): Fired[] =>
  n.events.filter((e) => e.name === 'schedule:fired' && (attempt === undefined || e.info.attempt === attempt)).map((e) => e.info as unknown as Fired);
const finished = (n: HostChild): Finished[] => n.events.filter((e) => e.name === 'occurrence:finished').map((e) => e.info as unknown as Finished);

test('three host processes on one PostgreSQL schema run 2,000 occurrences once each, and a SIGKILLed host\'s runs are retried after their lease', async (t) => {
  assert.deepEqual(nodes.map((n) => n.dialect), ['postgres', 'postgres', 'postgres']);
  assert.equal(new Set(nodes.map((n) => n.nodeId)).size, 3, 'three distinct scheduler nodes');
  const [n0, n1, victim] = nodes as [HostChild, HostChild, HostChild];
  const survivors = [n0, n1];

  // Every node serves the admin API of the one store: publish on one, set up on the others.
  const installed: Installed[] = await setUpPlugin(nodes, probePlugin(), ['c0', 'c1']);
  const listed = await victim.api('GET', '/api/v1/workspaces/c1/installations');
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.data.map((i: { id: string }) => i.id), [installed[1]!.installationId]);

  const schedules = oneTimeSchedules(installed, COUNT, dueOf, START, { fetch: true });
  await insertSchedules(store!, schedules);
  assert.equal(Number((await ledger!('schedules').where({ kind: 'plugin' }).count({ n: '*' }))[0]!.n), COUNT);

  // Nothing is due yet: moving the clocks together to just before DUE0 fires nothing.
  await setClocks(nodes, DUE0 - 1);
  for (const n of nodes) await n.idle();
  assert.equal(stub.requests.length, 0, 'nothing runs before its due time');

  // The first two due seconds: all three hosts plan and claim; the victim's runs hang on the stub.
  for (const t of [DUE0, DUE0 + 1000]) await setClocks(nodes, t);
  if (held.length === 0) {
    await within(new Promise<void>((resolve) => { heldWaiter = resolve; }), 30_000,
      () => `the third host never held a run; it fired ${JSON.stringify(fired(victim))}${victim.output()}`);
  }

  // SIGKILL it while it holds runs, with three of the five due seconds still to come.
  await victim.kill();
  assert.deepEqual(await victim.exited, { code: null, signal: 'SIGKILL' });
  const succeededAtKill = Number((await ledger!('occurrences').where({ status: 'succeeded' }).count({ n: '*' }))[0]!.n);
  const notYetPlanned = Number((await ledger!('schedules').whereNotNull('next_run_at').count({ n: '*' }))[0]!.n);
  assert.ok(notYetPlanned >= COUNT * 3 / SECONDS, `midway: the last three seconds were not due yet (${notYetPlanned} schedules unplanned)`);
  assert.ok(succeededAtKill <= COUNT * 2 / SECONDS, `midway: ${succeededAtKill} succeeded at the kill`);

  // The survivors carry on through the rest of the due window; the dead host's leases still hold.
  for (let s = 2; s < SECONDS; s++) await setClocks(survivors, DUE0 + s * 1000);
  for (const n of survivors) await n.idle(120_000);
  // The dead host's leases, read once the survivors are through (a claim it sent just before
  // dying may still have committed after the kill).
  const heldRows: Array<{ id: string; idempotency_key: string; attempt: number; lease_until: number; due_at: number }> =
    await ledger!('occurrences').where({ status: 'running', lease_owner: victim.nodeId }).orderBy('id');
  assert.ok(heldRows.length >= 1, 'the dead host holds leases');
  assert.ok(heldRows.length <= defaults.schedules.concurrency, `at most its concurrency (${heldRows.length})`);
  const heldKeys = new Set(heldRows.map((r) => r.idempotency_key));
  const heldIds = new Set(heldRows.map((r) => r.id));
  for (const h of held) assert.ok(heldKeys.has(h.key), `the run the stub held (${h.key}) is one the dead host still leases`);
  for (const f of fired(victim)) assert.ok(heldIds.has(f.occurrenceId), `what the dead host fired (${f.occurrenceId}) is leased by it`);
  for (const r of heldRows) {
    assert.equal(r.attempt, 1);
    assert.ok(r.due_at === DUE0 || r.due_at === DUE0 + 1000, `claimed when due (${r.due_at})`);
    assert.ok(r.lease_until === DUE0 + LEASE_MS || r.lease_until === DUE0 + 1000 + LEASE_MS, `lease = claim time + ${LEASE_MS} ms (${r.lease_until})`);
  }
  const byStatus = async () => Object.fromEntries(
    ((await ledger!('occurrences').groupBy('status').select('status').count({ n: '*' })) as Array<{ status: string; n: number | string }>)
      .map((r) => [r.status, Number(r.n)]),
  );
  assert.deepEqual(await byStatus(), { succeeded: COUNT - heldRows.length, running: heldRows.length }, 'all done but the dead host\'s runs');
  assert.equal(Number((await ledger!('occurrences').count({ n: '*' }))[0]!.n), COUNT, 'one occurrence per schedule');

  // One millisecond before the first lease ends: nothing is re-run.
  const minLease = Math.min(...heldRows.map((r) => r.lease_until));
  const maxLease = Math.max(...heldRows.map((r) => r.lease_until));
  await setClocks(survivors, minLease - 1);
  for (const n of survivors) await n.idle(30_000);
  assert.deepEqual(survivors.flatMap((n) => fired(n, 2)), [], 'no retry while the leases hold');
  assert.deepEqual(await byStatus(), { succeeded: COUNT - heldRows.length, running: heldRows.length });

  // Past the leases: each of the dead host's occurrences runs again once, on a survivor.
  await setClocks(survivors, maxLease + 1000);
  for (const n of survivors) await n.idle(30_000);
  assert.deepEqual(await byStatus(), { succeeded: COUNT });

  const retries = survivors.flatMap((n) => fired(n, 2));
  assert.equal(retries.length, heldRows.length, 'one retry per held occurrence');
  assert.deepEqual(new Set(retries.map((r) => r.occurrenceId)), heldIds);
  for (const r of retries) {
    assert.equal(r.trigger, 'retry');
    assert.ok(heldKeys.has(r.idempotencyKey), 'the retry carries the occurrence\'s idempotency key');
  }
  // The retried runs asked the stub again with the same keys, from a survivor.
  for (const key of heldKeys) {
    const asks = stub.requests.filter((q) => keyOf(q.url) === key).map((q) => nodeOfPath(q.url));
    assert.equal(asks.filter((n) => n === VICTIM).length <= 1, true);
    assert.equal(asks.filter((n) => n !== VICTIM).length, 1, `the key ${key} was run once by a survivor: ${JSON.stringify(asks)}`);
  }

  // Each occurrence fired at attempt 1 on exactly one node (none twice, cluster-wide).
  const firstFirings = nodes.flatMap((n) => fired(n, 1).map((f) => f.occurrenceId));
  assert.equal(new Set(firstFirings).size, firstFirings.length, 'no occurrence fired twice at attempt 1');
  // Survivors' first firings + the dead host's leased ones = every occurrence.
  const survivorFirst = survivors.flatMap((n) => fired(n, 1).map((f) => f.occurrenceId));
  assert.equal(survivorFirst.length + heldRows.length, COUNT);
  assert.equal(survivorFirst.filter((id) => heldIds.has(id)).length, 0);

  // Clean shutdown of the survivors (their run recorders flush), then read the ledger itself.
  for (const n of survivors) await n.close();

  const occurrences: Array<{ id: string; idempotency_key: string; status: string; attempt: number; last_run_id: string }> =
    await ledger!('occurrences').select('id', 'idempotency_key', 'status', 'attempt', 'last_run_id');
  assert.equal(occurrences.length, COUNT);
  assert.equal(new Set(occurrences.map((o) => o.idempotency_key)).size, COUNT, 'distinct idempotency keys');
  const runs: Array<{ id: string; idempotency_key: string; status: string; trigger: string; attempt: number; kind: string }> =
    await ledger!('runs').whereNotNull('idempotency_key').select('id', 'idempotency_key', 'status', 'trigger', 'attempt', 'kind');
  const succeededByKey = new Map<string, typeof runs>();
  for (const r of runs) if (r.status === 'succeeded') succeededByKey.set(r.idempotency_key, [...(succeededByKey.get(r.idempotency_key) ?? []), r]);
  assert.equal(succeededByKey.size, COUNT, 'every occurrence has a successful run');
  assert.deepEqual(runs.filter((r) => r.status !== 'succeeded'), [], 'no failed run anywhere');
  for (const o of occurrences) {
    const ok = succeededByKey.get(o.idempotency_key) ?? [];
    assert.equal(ok.length, 1, `exactly one successful run for ${o.idempotency_key}: ${JSON.stringify(ok)}`);
    const run = ok[0]!;
    assert.equal(o.status, 'succeeded');
    assert.equal(o.last_run_id, run.id);
    assert.equal(run.kind, 'event');
    if (heldKeys.has(o.idempotency_key)) {
      assert.deepEqual({ trigger: run.trigger, attempt: run.attempt, occurrenceAttempt: o.attempt }, { trigger: 'retry', attempt: 2, occurrenceAttempt: 2 });
    } else {
      assert.deepEqual({ trigger: run.trigger, attempt: run.attempt, occurrenceAttempt: o.attempt }, { trigger: 'schedule', attempt: 1, occurrenceAttempt: 1 });
    }
  }

  // Work was spread: every node fired, and each survivor finished a real share.
  const share = nodes.map((n) => fired(n).length);
  const done = survivors.map((n) => finished(n).filter((f) => f.status === 'succeeded').length);
  assert.ok(share.every((x) => x > 0), `every node fired occurrences: ${JSON.stringify(share)}`);
  assert.equal(done[0]! + done[1]!, COUNT, `the survivors finished all ${COUNT}: ${JSON.stringify(done)}`);
  assert.ok(done.every((x) => x >= COUNT / 10), `both survivors did a real share: ${JSON.stringify(done)}`);
  t.diagnostic(`fired per node ${JSON.stringify(share)}; held by the killed node ${heldRows.length}; succeeded at the kill ${succeededAtKill}`);
});
