// A host on PostgreSQL survives the database dropping its connections (a failover, a restart,
// an operator's pg_terminate_backend): after every backend of the host is terminated from
// another connection, `/healthz` comes back to `{status: 'ok', store: {dialect: 'postgres',
// ok: true}}` (any answer before that is the documented 503 STORE_UNAVAILABLE), the admin API
// works, plugin routes work, and the scheduler still fires a schedule that falls due afterwards.
// Requests that race the drop get 200 or the documented 503 STORE_UNAVAILABLE, never a 500.
// Needs PostgreSQL in both passes of `npm test`: the PostgreSQL pass's database, else a database
// of its own on the server at PLUGHOST_TEST_PG_URL (so that terminating every backend of the
// database touches this host only); it fails if PostgreSQL cannot be reached.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { connectOrFail, DEFAULT_PG_URL, freshDatabase } from './fixtures/pg.ts';

const START = Date.parse('2030-03-01T00:00:00Z');
const DUE = Date.parse('2030-03-01T02:00:00Z');
const clock = createVirtualClock(START);
let own: { url: string; drop(): Promise<void> } | undefined;
let h: TestHost | undefined;
let admin: pg.Client | undefined;

before(async () => {
  if (!process.env.PLUGHOST_TEST_DATABASE_URL) {
    // The SQLite pass: a database of our own; startHost (test/helpers/host.ts) reads this variable.
    own = await freshDatabase(process.env.PLUGHOST_TEST_PG_URL || DEFAULT_PG_URL, 'plughost_reconnect');
    process.env.PLUGHOST_TEST_DATABASE_URL = own.url;
  }
  admin = await connectOrFail(process.env.PLUGHOST_TEST_DATABASE_URL!);
  h = await startHost({ clock });
});

after(async () => {
  await h?.close();
  await admin?.end();
  if (own) {
    delete process.env.PLUGHOST_TEST_DATABASE_URL;
    await own.drop();
  }
});

const OTHERS = 'FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()';

const healthz = async () => {
  const res = await fetch(`${h!.url}/healthz`);
  return { status: res.status, body: await res.json() as Record<string, any> };
};

test('after PostgreSQL terminates all of its connections the host reconnects: healthz, admin API, routes and the scheduler work', async (t) => {
  const before0 = await healthz();
  assert.equal(before0.status, 200);
  const { scheduler: _s, recorder: _r, ...storeHealth } = before0.body;
  assert.deepEqual({ ...storeHealth, store: { ...storeHealth.store, latencyMs: typeof storeHealth.store.latencyMs } },
    { status: 'ok', store: { dialect: 'postgres', ok: true, latencyMs: 'number' } });

  // A plugin route and a scheduled webhook to it, due at 02:00.
  assert.equal((await h!.api('POST', '/api/v1/workspaces', { id: 'rc', name: 'Reconnect' })).status, 201);
  const published = await h!.publish({
    'plugin.json': { name: 'reconnect-probe', version: '1.0.0', namespace: 'rc', services: [{ route: 'ping', main: 'plugin.js', access: 'public' }], limits: { timeoutMs: 2000 } },
    'plugin.js': `exports.run = function (e) { e.response.json({ pong: true, scheduled: e.request.body && e.request.body.data ? e.request.body.data.scheduled : null }); };`,
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  assert.equal((await h!.api('POST', '/api/v1/workspaces/rc/installations', { plugin: 'reconnect-probe' })).status, 201);
  const webhook = await h!.api('POST', '/api/v1/workspaces/rc/scheduled-webhooks', {
    url: '/workspaces/rc/rc/ping', frequency: 'daily', start: '2030-03-01 02:00:00', timezone: 'UTC', description: 'after the drop',
  });
  assert.equal(webhook.status, 201, JSON.stringify(webhook.body));
  assert.equal(webhook.body.nextRunAt, new Date(DUE).toISOString());

  // Several pooled connections open at once, then idle in the pool.
  const burst = await Promise.all(Array.from({ length: 8 }, () => h!.api('GET', '/api/v1/workspaces/rc/runs')));
  for (const r of burst) assert.equal(r.status, 200);
  const open = Number((await admin!.query(`SELECT count(*)::int AS n ${OTHERS}`)).rows[0].n);
  assert.ok(open >= 2, `the host holds several connections (${open})`);

  // The database drops every connection of the host.
  const killed = await admin!.query(`SELECT pg_terminate_backend(pid) AS ok ${OTHERS}`);
  assert.ok(killed.rows.length >= 2, `terminated ${killed.rows.length} backends`);
  assert.ok(killed.rows.every((r: { ok: boolean }) => r.ok === true));

  // /healthz comes back to ok; before that it may only answer the documented 503.
  const answers: Array<{ status: number; body: Record<string, any> }> = [];
  for (let i = 0; i < 12; i++) {
    const a = await healthz();
    answers.push(a);
    if (a.status === 200) break;
    const { scheduler: _s, recorder: _r, ...storeHealth } = a.body;
    assert.deepEqual({ status: a.status, body: storeHealth }, {
      status: 503,
      body: { status: 'unavailable', store: { dialect: 'postgres', ok: false }, error: { code: 'STORE_UNAVAILABLE', message: 'the database does not answer' } },
    });
  }
  const last = answers.at(-1)!;
  assert.equal(last.status, 200, `healthz never came back: ${JSON.stringify(answers)}`);
  assert.equal(last.body.status, 'ok');
  assert.deepEqual({ dialect: last.body.store.dialect, ok: last.body.store.ok }, { dialect: 'postgres', ok: true });
  t.diagnostic(`terminated ${killed.rows.length} backends; /healthz answered ${answers.map((a) => a.status).join(', ')}`);

  // The admin API reads and writes.
  const ws = await h!.api('GET', '/api/v1/workspaces/rc');
  assert.equal(ws.status, 200, JSON.stringify(ws.body));
  assert.equal(ws.body.id, 'rc');
  const created = await h!.api('POST', '/api/v1/workspaces', { id: 'rc2', name: 'After the drop' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const listed = await h!.api('GET', '/api/v1/workspaces');
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.data.map((w: { id: string }) => w.id).sort(), ['rc', 'rc2']);

  // A plugin route (installation lookup, run record).
  const pong = await fetch(`${h!.url}/workspaces/rc/rc/ping`);
  assert.equal(pong.status, 200);
  assert.deepEqual(await pong.json(), { pong: true, scheduled: null });

  // The scheduler fires the webhook that falls due after the drop.
  const finished = h!.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === webhook.body.id);
  await clock.set(DUE);
  const [info] = await finished;
  assert.equal(info.status, 'succeeded');
  assert.ok(info.runId);
  const run = await h!.api('GET', `/api/v1/workspaces/rc/runs/${info.runId}`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.trigger, 'schedule');
  assert.equal(run.body.status, 'succeeded');
  assert.equal(run.body.scheduleId, webhook.body.id);

  const again = await healthz();
  assert.equal(again.status, 200);
  assert.equal(again.body.store.dialect, 'postgres');
});

test('requests that meet a dropped connection answer 503 STORE_UNAVAILABLE (or succeed), never 500', async (t) => {
  const tally = new Map<string, number>();
  for (let round = 0; round < 10; round++) {
    // Drop every connection of the host, and ask at once, many requests over the pool.
    await admin!.query(`SELECT pg_terminate_backend(pid) ${OTHERS}`);
    const answers = await Promise.all(Array.from({ length: 12 }, () => h!.api('GET', '/api/v1/workspaces/rc')));
    for (const a of answers) {
      const key = a.status === 200 ? '200' : `${a.status} ${a.body?.error?.code}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
  }
  t.diagnostic(`answers right after the drops: ${JSON.stringify(Object.fromEntries(tally))}`);
  for (const key of tally.keys()) assert.ok(key === '200' || key === '503 STORE_UNAVAILABLE', `an answer right after the drop was ${key}: ${JSON.stringify(Object.fromEntries(tally))}`);
  // And the host comes back.
  let health = await healthz();
  for (let i = 0; i < 12 && health.status !== 200; i++) health = await healthz();
  assert.equal(health.status, 200);
  const ws = await h!.api('GET', '/api/v1/workspaces/rc');
  assert.equal(ws.status, 200);
});
