// Crash recovery of the scheduler (SPEC §5 "a crashed run is retried after its lease runs
// out", §8 "killing a process mid-run loses nothing"): a real host process is SIGKILLed while
// a scheduled webhook's run is in flight (its plugin has reported the idempotency key to a
// stub and is waiting on a stub that does not answer). A second host process on the same
// SQLite file does NOT re-run the occurrence before the lease ends, then re-runs it once the
// lease has run out: same occurrence, same idempotency key, trigger `retry`, attempt 2. In
// the end the ledger (over the API, and in the SQLite file after a clean shutdown) holds
// exactly one occurrence for that due time, `succeeded`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { defaults } from '../../runtime/options.ts';
import { startStub, type RecordedRequest, type StubServer } from '../helpers/stub-server.ts';
import { openLedger, startHostChild, within, type HostChild } from './fixtures/crash-child.ts';

const DUE = Date.parse('2030-01-01T01:00:00Z');
const START = Date.parse('2030-01-01T00:00:00Z');
/** The lease a claim takes (host.ts): the longest plugin time limit plus the margin. */
const LEASE_MS = defaults.sandbox.maxTimeoutMs + defaults.schedules.leaseMarginMs;
const OPERATOR_TOKEN = 'crash-test-operator-token-0123456789';
const WS = 'crash';

let stub: StubServer;
let dataDir: string;
/** While true the stub holds `/hang` requests open forever (the in-flight run of host 1). */
let hang = true;
const held: Array<{ end(): void }> = [];
const children: HostChild[] = [];

before(async () => {
  stub = await startStub((req: RecordedRequest, res) => {
    if (req.url.startsWith('/hang') && hang) {
      held.push(res);
      return; // never answers: the run stays in flight until its process dies
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-crash-'));
});

after(async () => {
  for (const c of children) await c.kill().catch(() => undefined);
  for (const res of held) res.end();
  await stub?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const start = async (startMs: number) => {
  const child = await startHostChild({ dataDir, startMs, operatorToken: OPERATOR_TOKEN, egressAllow: ['127.0.0.1'] });
  children.push(child);
  return child;
};

const pluginFiles = (stubUrl: string) => ({
  'plugin.json': {
    name: 'crash-probe', version: '1.0.0', namespace: 'crash',
    services: [{ route: 'slow', main: 'plugin.js', access: 'public' }],
    permissions: { hosts: ['127.0.0.1'] },
    limits: { timeoutMs: 10_000 },
  },
  'plugin.js': `
const STUB = ${JSON.stringify(stubUrl)};
exports.run = async function (eventData) {
  const key = eventData.request.headers['x-plughost-idempotency-key'];
  await fetch(STUB + '/record', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: String(key) });
  const res = await fetch(STUB + '/hang?key=' + encodeURIComponent(key));
  eventData.response.json({ ok: res.status === 200, key: key });
};
`,
});

const waitForStub = (n: number, what: string) =>
  within(stub.waitForRequests(n), 15_000, () => `the stub never got ${what} (${n} requests in all); it got: ${JSON.stringify(stub.requests.map((r) => `${r.method} ${r.url}`))}`);

test('a run killed with SIGKILL mid-flight is re-run once after its lease, with the same idempotency key, and nothing is lost', async () => {
  // Host 1: set up the plugin and a daily webhook due at 01:00 UTC.
  const host1 = await start(START);
  const published = await host1.publish(pluginFiles(stub.url));
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await host1.api('POST', '/api/v1/workspaces', { id: WS, name: 'Crash' })).status, 201);
  const installed = await host1.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'crash-probe' });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  const created = await host1.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks`, {
    url: `/workspaces/${WS}/crash/slow`, frequency: 'daily', start: '2030-01-01 01:00:00', timezone: 'UTC', description: 'crash probe',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.nextRunAt, new Date(DUE).toISOString());
  const webhookId: string = created.body.id;

  await host1.idle();
  assert.equal(stub.requests.length, 0, 'nothing runs before the due time');

  // Due: host 1 claims the occurrence; the plugin records its key, then hangs on the stub.
  await host1.set(DUE);
  const [recorded1, hung1] = await waitForStub(2, 'the first run\'s /record and /hang calls');
  const fired1 = await host1.waitForEvent('schedule:fired');
  assert.equal(fired1.scheduleId, webhookId);
  assert.equal(fired1.trigger, 'schedule');
  assert.equal(fired1.attempt, 1);
  const key: string = fired1.idempotencyKey;
  assert.ok(key, 'the firing carries an idempotency key');
  assert.equal(recorded1!.method, 'POST');
  assert.equal(recorded1!.url, '/record');
  assert.equal(recorded1!.body, key, 'the plugin saw the occurrence\'s idempotency key');
  assert.equal(hung1!.url, `/hang?key=${encodeURIComponent(key)}`);

  // Crash mid-run.
  await host1.kill();
  assert.deepEqual(await host1.exited, { code: null, signal: 'SIGKILL' });
  assert.equal(host1.events.filter((e) => e.name === 'occurrence:finished').length, 0, 'the first run never finished');
  hang = false;

  // Host 2, same data dir, clock before the lease ends: the claim of host 1 still holds.
  const host2 = await start(DUE + 1_000);
  await host2.idle();
  const during = await host2.api('GET', `/api/v1/workspaces/${WS}/scheduled-webhooks/${webhookId}`);
  assert.equal(during.status, 200, JSON.stringify(during.body));
  assert.equal(during.body.occurrences.length, 1, JSON.stringify(during.body.occurrences));
  const leased = during.body.occurrences[0];
  assert.equal(leased.id, fired1.occurrenceId);
  assert.equal(leased.idempotencyKey, key);
  assert.equal(leased.dueAt, DUE);
  assert.equal(leased.status, 'running', 'the ledger still shows the crashed claim');
  assert.equal(leased.attempt, 1);
  assert.equal(leased.leaseOwner, host1.nodeId, 'the lease is host 1\'s');
  assert.equal(leased.leaseUntil, DUE + LEASE_MS, 'the lease is the longest time limit plus the margin');
  assert.equal(stub.requests.length, 2, 'not re-run while the lease holds');
  assert.deepEqual(host2.events.filter((e) => e.name === 'schedule:fired'), [], 'host 2 fired nothing while the lease holds');

  // One millisecond before the lease ends: still not re-run.
  await host2.set(DUE + LEASE_MS - 1);
  await host2.idle();
  assert.equal(stub.requests.length, 2, 'not re-run 1 ms before the lease ends');
  assert.deepEqual(host2.events.filter((e) => e.name === 'schedule:fired'), [], 'host 2 fired nothing 1 ms before the lease ends');

  // The lease has run out: the same occurrence runs again, as a retry, attempt 2.
  await host2.set(DUE + LEASE_MS + 1_000);
  const fired2 = await host2.waitForEvent('schedule:fired');
  assert.deepEqual(
    { scheduleId: fired2.scheduleId, occurrenceId: fired2.occurrenceId, idempotencyKey: fired2.idempotencyKey, trigger: fired2.trigger, attempt: fired2.attempt },
    { scheduleId: webhookId, occurrenceId: fired1.occurrenceId, idempotencyKey: key, trigger: 'retry', attempt: 2 },
  );
  const finished = await host2.waitForEvent('occurrence:finished');
  assert.equal(finished.occurrenceId, fired1.occurrenceId);
  assert.equal(finished.idempotencyKey, key);
  assert.equal(finished.status, 'succeeded');
  assert.equal(finished.attempt, 2);
  assert.ok(finished.runId, 'the retry is a recorded run');

  const requests = await waitForStub(4, 'the retry\'s /record and /hang calls');
  assert.equal(requests[2]!.url, '/record');
  assert.equal(requests[2]!.body, key, 'the retry sees the SAME idempotency key');
  assert.equal(requests[3]!.url, `/hang?key=${encodeURIComponent(key)}`);

  await host2.idle();
  assert.equal(stub.requests.length, 4, 'exactly one re-run');
  assert.equal(host2.events.filter((e) => e.name === 'schedule:fired').length, 1, 'host 2 fired exactly once');

  const run = await host2.api('GET', `/api/v1/workspaces/${WS}/runs/${finished.runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.kind, 'webhook');
  assert.equal(run.body.trigger, 'retry');
  assert.equal(run.body.attempt, 2);
  assert.equal(run.body.status, 'succeeded');
  assert.equal(run.body.idempotencyKey, key);
  assert.equal(run.body.scheduleId, webhookId);

  const ledger = await host2.api('GET', `/api/v1/workspaces/${WS}/scheduled-webhooks/${webhookId}`);
  assert.equal(ledger.status, 200);
  const forDue = ledger.body.occurrences.filter((o: { dueAt: number }) => o.dueAt === DUE);
  assert.equal(forDue.length, 1, `exactly one occurrence for the due time: ${JSON.stringify(ledger.body.occurrences)}`);
  assert.equal(ledger.body.occurrences.length, 1, 'and no other occurrence');
  const done = forDue[0];
  assert.equal(done.id, fired1.occurrenceId);
  assert.equal(done.idempotencyKey, key);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.attempt, 2);
  assert.equal(done.failures, 0, 'a crash is not a failure of the handler');
  assert.equal(done.lastRunId, finished.runId);
  assert.equal(done.leaseOwner, null);
  assert.equal(done.finishedAt, DUE + LEASE_MS + 1_000);
  assert.equal(ledger.body.nextRunAt, '2030-01-02T01:00:00.000Z', 'the next day is planned, not lost');

  // Clean shutdown of host 2, then read the SQLite file itself.
  await host2.close();
  const db = openLedger(dataDir); // the SQLite file, or the PostgreSQL schema of this data dir
  try {
    const rows = await db('occurrences').where({ schedule_id: webhookId });
    assert.equal(rows.length, 1, `the SQLite ledger holds one occurrence: ${JSON.stringify(rows)}`);
    assert.equal(Number(rows[0].due_at), DUE);
    assert.equal(rows[0].idempotency_key, key);
    assert.equal(rows[0].status, 'succeeded');
    assert.equal(Number(rows[0].attempt), 2);
    const succeeded = await db('runs').where({ idempotency_key: key, status: 'succeeded' });
    assert.equal(succeeded.length, 1, `one succeeded run carries the key: ${JSON.stringify(succeeded)}`);
    assert.equal(succeeded[0].trigger, 'retry');
    assert.equal(Number(succeeded[0].attempt), 2);
  } finally {
    await db.destroy();
  }
});
