// Misfire policies after downtime, across real restarts on one data directory: daily
// webhooks (to a plugin route of a counting plugin) with `misfire: coalesce` (the default),
// `skip` and `all`. The host is closed, a new virtual clock starts three days later and a new
// host opens the same data: coalesce fires once (trigger `catch-up`, for the latest missed
// time), skip fires none, all fires each missed time in order; with `catchUpCap: 2` all
// fires the latest two. Schedules, secret keys, runs and the occurrence ledger survive.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock, type VirtualClock } from '../../runtime/clock.ts';
import type { HostOptions } from '../../runtime/options.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/counter');
const read = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
const at = (s: string) => Date.parse(s);
let dataDir: string;
let h: TestHost | undefined;
let clock: VirtualClock;
const ids: Record<'coalesce' | 'skip' | 'all', string> = { coalesce: '', skip: '', all: '' };
const secrets: Record<string, string> = {};

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-misfire-'));
});
after(async () => {
  await h?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function restart(atIso: string, schedules: Partial<HostOptions['schedules']> = {}) {
  await h?.close();
  clock = createVirtualClock(at(atIso));
  h = await startHost({ clock, dataDir, schedules });
  await h.host.scheduler.idle();
  return h;
}

async function webhook(id: string): Promise<any> {
  const res = await h!.api('GET', `/api/v1/workspaces/mis/scheduled-webhooks/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Webhook runs of a schedule that started at or after `since`, oldest first, with what the route logged. */
async function runsSince(id: string, since: number): Promise<any[]> {
  const list = await h!.api('GET', `/api/v1/workspaces/mis/runs?kind=webhook&schedule=${id}&limit=200`);
  assert.equal(list.status, 200);
  const out = [];
  for (const r of list.body.data.filter((x: { startedAt: number }) => x.startedAt >= since)) {
    const full = (await h!.api('GET', `/api/v1/workspaces/mis/runs/${r.id}`)).body;
    const line = (full.log as string).split('\n').find((l) => l.includes('CALLED '));
    out.push({ ...full, called: line ? JSON.parse(line.slice(line.indexOf('CALLED ') + 7)) : undefined });
  }
  return out.sort((a, b) => a.called.scheduled.localeCompare(b.called.scheduled));
}

test('before the downtime each policy fires on time', async () => {
  await restart('2026-03-01T08:00:00Z');
  assert.equal((await h!.publish({ 'plugin.json': read('plugin.json'), 'plugin.js': read('plugin.js') })).status, 201);
  assert.equal((await h!.api('POST', '/api/v1/workspaces', { id: 'mis', name: 'Misfire' })).status, 201);
  assert.equal((await h!.api('POST', '/api/v1/workspaces/mis/installations', { plugin: 'counter' })).status, 201);
  for (const policy of ['coalesce', 'skip', 'all'] as const) {
    const res = await h!.api('POST', '/api/v1/workspaces/mis/scheduled-webhooks', {
      url: `/workspaces/mis/cnt/hit?policy=${policy}`, frequency: 'daily', start: '2026-03-01 09:00:00', timezone: 'UTC',
      description: `misfire ${policy}`, ...(policy === 'coalesce' ? {} : { misfire: policy }),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.misfire, policy, 'coalesce is the default');
    ids[policy] = res.body.id;
    secrets[res.body.id] = res.body.secretKey;
  }
  await clock.set(at('2026-03-01T09:00:00Z'));
  await h!.host.scheduler.idle();
  for (const policy of ['coalesce', 'skip', 'all'] as const) {
    const runs = await runsSince(ids[policy], 0);
    assert.equal(runs.length, 1, policy);
    assert.equal(runs[0].trigger, 'schedule');
    assert.equal(runs[0].status, 'succeeded');
    assert.equal(runs[0].called.scheduled, '2026-03-01 09:00:00');
    assert.equal(runs[0].called.nextScheduled, '2026-03-02 09:00:00');
  }
  await clock.set(at('2026-03-01T09:30:00Z'));
  await h!.host.scheduler.idle();
});

test('three days down: coalesce fires once (catch-up), skip none, all three; everything survived', async () => {
  const since = at('2026-03-04T09:30:00Z');
  await restart('2026-03-04T09:30:00Z');

  // The schedules and their secret keys are still there.
  const list = await h!.api('GET', '/api/v1/workspaces/mis/scheduled-webhooks');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.data.map((w: { id: string }) => w.id).sort(), Object.values(ids).sort());
  for (const w of list.body.data) {
    assert.equal(w.secretKey, secrets[w.id]);
    assert.equal(w.nextRunAt, '2026-03-05T09:00:00.000Z', 'the next run is the next one after now');
  }

  const coalesce = await runsSince(ids.coalesce, since);
  assert.equal(coalesce.length, 1);
  assert.equal(coalesce[0].trigger, 'catch-up');
  assert.equal(coalesce[0].status, 'succeeded');
  assert.equal(coalesce[0].called.scheduled, '2026-03-04 09:00:00', 'the latest missed time');
  assert.equal(coalesce[0].called.nextScheduled, '2026-03-05 09:00:00');

  assert.deepEqual(await runsSince(ids.skip, since), []);

  const all = await runsSince(ids.all, since);
  assert.deepEqual(all.map((r) => r.called.scheduled), ['2026-03-02 09:00:00', '2026-03-03 09:00:00', '2026-03-04 09:00:00']);
  assert.ok(all.every((r) => r.trigger === 'catch-up' && r.status === 'succeeded'));
  assert.equal(new Set(all.map((r) => r.idempotencyKey)).size, 3);

  // The ledger holds the occurrence from before the restart and the catch-ups.
  const occ = (await webhook(ids.all)).occurrences as any[];
  assert.deepEqual(occ.map((o) => [new Date(o.dueAt).toISOString(), o.trigger, o.status]).sort(), [
    ['2026-03-01T09:00:00.000Z', 'schedule', 'succeeded'],
    ['2026-03-02T09:00:00.000Z', 'catch-up', 'succeeded'],
    ['2026-03-03T09:00:00.000Z', 'catch-up', 'succeeded'],
    ['2026-03-04T09:00:00.000Z', 'catch-up', 'succeeded'],
  ]);
  const coalesceOcc = (await webhook(ids.coalesce)).occurrences as any[];
  assert.deepEqual(coalesceOcc.map((o) => [new Date(o.dueAt).toISOString(), o.trigger]).sort(), [
    ['2026-03-01T09:00:00.000Z', 'schedule'], ['2026-03-04T09:00:00.000Z', 'catch-up'],
  ]);
  const skipOcc = (await webhook(ids.skip)).occurrences as any[];
  assert.deepEqual(skipOcc.map((o) => [new Date(o.dueAt).toISOString(), o.trigger]), [['2026-03-01T09:00:00.000Z', 'schedule']]);

  // The run history from before the restart survived as well.
  assert.equal((await runsSince(ids.skip, 0)).length, 1);

  // After catching up, each runs on time again.
  await clock.set(at('2026-03-05T09:00:00Z'));
  await h!.host.scheduler.idle();
  for (const id of Object.values(ids)) {
    const next = await runsSince(id, at('2026-03-05T09:00:00Z'));
    assert.equal(next.length, 1);
    assert.equal(next[0].trigger, 'schedule');
    assert.equal(next[0].called.scheduled, '2026-03-05 09:00:00');
  }
  await clock.set(at('2026-03-05T09:30:00Z'));
  await h!.host.scheduler.idle();
});

test('with catchUpCap 2, all fires only the latest two missed times', async () => {
  const since = at('2026-03-08T09:30:00Z');
  await restart('2026-03-08T09:30:00Z', { catchUpCap: 2 });
  const all = await runsSince(ids.all, since);
  assert.deepEqual(all.map((r) => r.called.scheduled), ['2026-03-07 09:00:00', '2026-03-08 09:00:00']);
  assert.ok(all.every((r) => r.trigger === 'catch-up' && r.status === 'succeeded'));
  const coalesce = await runsSince(ids.coalesce, since);
  assert.deepEqual(coalesce.map((r) => [r.trigger, r.called.scheduled]), [['catch-up', '2026-03-08 09:00:00']]);
  assert.deepEqual(await runsSince(ids.skip, since), []);
  for (const id of Object.values(ids)) assert.equal((await webhook(id)).nextRunAt, '2026-03-09T09:00:00.000Z');
});

test('a short delay within the grace period is not a misfire: skip still fires it on time', async () => {
  // 30 s late (graceMs is 60 s): every policy runs it as a plain scheduled run.
  await restart('2026-03-09T09:00:30Z');
  for (const id of Object.values(ids)) {
    const runs = await runsSince(id, at('2026-03-09T09:00:30Z'));
    assert.equal(runs.length, 1);
    assert.equal(runs[0].trigger, 'schedule');
    assert.equal(runs[0].called.scheduled, '2026-03-09 09:00:00');
  }
});
