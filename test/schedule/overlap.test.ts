// Overlap policies of an hourly scheduled webhook whose plugin route waits on a slow service
// (a stub that holds its answer until the test releases it): `skip` (the default) marks the
// occurrence that comes due while the previous run still goes as skipped, `queue` runs it
// after the previous one finishes, one at a time, `allow` runs both at once; a manual run is
// not held back by the policy. And `noRetry` from a plugin route: a 500 with
// `x-plughost-no-retry: true`, or a thrown `{noRetry: true}`, ends the occurrence after one
// attempt, while a plain 500 is retried.
//
// The queue case also checks that the scheduler sleeps while an occurrence waits its turn
// (it must not re-arm its timer for "now" and spin through passes until the run ends).
//
// Leases are measured on the host clock; a virtual hour passes while a run is held, so the
// host gets a lease margin of hours (otherwise the held run would look crashed and be re-run,
// which real time cannot cause: a run's time limit is shorter than its lease).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock, type VirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/slowpoke');
const read = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
const at = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;
const BASE = '/api/v1/workspaces/ov/scheduled-webhooks';
const virtual = createVirtualClock(at('2026-04-01T09:00:00Z'));
// The virtual clock, recording each timer the scheduler arms (it is the clock's only user).
const arms: Array<{ atMs: number; now: number }> = [];
let armWaiters: Array<(a: { atMs: number; now: number }) => void> = [];
const clock: VirtualClock = {
  ...virtual,
  at(atMs, fn) {
    const a = { atMs, now: virtual.now() };
    arms.push(a);
    for (const w of armWaiters.splice(0)) w(a);
    return virtual.at(atMs, fn);
  },
};
const nextArm = () => new Promise<{ atMs: number; now: number }>((resolve) => armWaiters.push(resolve));
let h: TestHost;
let slow: StubServer;
const held: http.ServerResponse[] = [];

/** Answers every request the slow service is holding. */
function release(): void {
  for (const res of held.splice(0)) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('slow work');
  }
}

before(async () => {
  slow = await startStub((_req, res) => { held.push(res); });
  h = await startHost({ clock, egressMap: { 'slow.example.com': slow.url }, schedules: { leaseMarginMs: 6 * HOUR } });
  assert.equal((await h.publish({ 'plugin.json': read('plugin.json'), 'plugin.js': read('plugin.js') })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'ov', name: 'Overlap' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/ov/installations', { plugin: 'slowpoke' })).status, 201);
});
after(async () => {
  release();
  await h.close();
  await slow.close();
});

async function create(body: Record<string, unknown>): Promise<any> {
  const res = await h.api('POST', BASE, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The webhook's occurrences, oldest first, as [due (ISO, or `manual`), status]. */
async function occurrences(id: string): Promise<Array<[string, string]>> {
  const res = await h.api('GET', `${BASE}/${id}`);
  assert.equal(res.status, 200);
  return [...res.body.occurrences]
    .sort((a, b) => a.dueAt - b.dueAt)
    .map((o) => [o.trigger === 'manual' ? 'manual' : iso(o.dueAt), o.status]);
}

const slowFor = (id: string) => slow.requests.filter((r) => new URL(r.url, 'http://slow').searchParams.get('id') === id);
const scheduledOf = (id: string) => slowFor(id).map((r) => new URL(r.url, 'http://slow').searchParams.get('scheduled'));

/** Resolves once the slow service has seen `n` calls for webhook `id`. */
async function waitSlow(id: string, n: number): Promise<void> {
  while (slowFor(id).length < n) await slow.waitForRequests(slow.requests.length + 1);
}

/** Moves the clock and waits for the scheduler pass at the new time (not for the runs). */
async function moveTo(s: string): Promise<void> {
  await clock.set(at(s));
  await h.host.scheduler.wake();
}

async function runsOf(id: string): Promise<any[]> {
  const res = await h.api('GET', `/api/v1/workspaces/ov/runs?kind=webhook&schedule=${id}&limit=200`);
  return [...res.body.data].sort((a, b) => a.startedAt - b.startedAt || a.attempt - b.attempt);
}

test('overlap skip (default): an occurrence due while the previous run goes is skipped', async () => {
  await moveTo('2026-04-01T09:59:00Z');
  const w = await create({ url: '/workspaces/ov/slow/work', frequency: 'hourly', start: '2026-04-01 10:00:00', timezone: 'UTC' });
  assert.equal(w.overlap, 'skip');
  await moveTo('2026-04-01T10:00:00Z');
  await waitSlow(w.id, 1);
  await moveTo('2026-04-01T11:00:00Z');
  assert.deepEqual(await occurrences(w.id), [['2026-04-01T10:00:00.000Z', 'running'], ['2026-04-01T11:00:00.000Z', 'skipped']]);
  const skipped = (await h.api('GET', `${BASE}/${w.id}`)).body.occurrences.find((o: { dueAt: number }) => o.dueAt === at('2026-04-01T11:00:00Z'));
  assert.match(skipped.error, /overlap/);
  assert.equal(skipped.lastRunId, null, 'a skipped occurrence has no run');

  // Run now is not held back by the policy.
  const manual = h.api('POST', `${BASE}/${w.id}/run`);
  await waitSlow(w.id, 2);
  release();
  const m = await manual;
  assert.equal(m.status, 200);
  assert.equal(m.body.status, 'succeeded');
  await h.host.scheduler.idle();
  assert.deepEqual(await occurrences(w.id), [['2026-04-01T10:00:00.000Z', 'succeeded'], ['manual', 'succeeded'], ['2026-04-01T11:00:00.000Z', 'skipped']]);
  assert.deepEqual(scheduledOf(w.id), ['2026-04-01 10:00:00', '2026-04-01 11:00:00'], 'the 10:00 run and the manual one (at 11:00)');

  // Once nothing runs, the next occurrence runs as usual.
  await moveTo('2026-04-01T12:00:00Z');
  await waitSlow(w.id, 3);
  release();
  await h.host.scheduler.idle();
  assert.deepEqual((await occurrences(w.id)).filter(([due]) => due !== 'manual'), [
    ['2026-04-01T10:00:00.000Z', 'succeeded'], ['2026-04-01T11:00:00.000Z', 'skipped'], ['2026-04-01T12:00:00.000Z', 'succeeded'],
  ]);
  assert.equal((await runsOf(w.id)).filter((r) => r.trigger === 'schedule').length, 2);
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});

test('overlap queue: occurrences due meanwhile run after the previous one, one at a time', async () => {
  await moveTo('2026-04-02T09:59:00Z');
  const w = await create({ url: '/workspaces/ov/slow/work', frequency: 'hourly', start: '2026-04-02 10:00:00', timezone: 'UTC', overlap: 'queue' });
  assert.equal(w.overlap, 'queue');
  await moveTo('2026-04-02T10:00:00Z');
  await waitSlow(w.id, 1);

  // From here an occurrence waits its turn. Passes are awaited through the timer each one
  // arms at its end (scheduler.wake() would not settle if the scheduler kept passing).
  const queuedFrom = arms.length;
  const passAt = async (time: string, expected: Array<[string, string]>) => {
    const t = at(time);
    const armed = new Promise<void>((resolve) => {
      const check = (a: { now: number }) => (a.now >= t ? resolve() : void nextArm().then(check));
      void nextArm().then(check);
    });
    await clock.set(t);
    await armed;
    // A pass already going when the clock moved may arm before the one that plans `time`.
    for (;;) {
      const occ = await occurrences(w.id);
      if (JSON.stringify(occ) === JSON.stringify(expected)) return;
      await nextArm();
    }
  };
  await passAt('2026-04-02T11:00:00Z', [['2026-04-02T10:00:00.000Z', 'running'], ['2026-04-02T11:00:00.000Z', 'pending']]);
  await passAt('2026-04-02T12:00:00Z', [
    ['2026-04-02T10:00:00.000Z', 'running'], ['2026-04-02T11:00:00.000Z', 'pending'], ['2026-04-02T12:00:00.000Z', 'pending'],
  ]);
  assert.equal(slowFor(w.id).length, 1);

  release();
  await waitSlow(w.id, 2); // the 11:00 one starts once 10:00 has finished
  assert.deepEqual(await occurrences(w.id), [
    ['2026-04-02T10:00:00.000Z', 'succeeded'], ['2026-04-02T11:00:00.000Z', 'running'], ['2026-04-02T12:00:00.000Z', 'pending'],
  ]);
  release();
  await waitSlow(w.id, 3);
  assert.deepEqual(await occurrences(w.id), [
    ['2026-04-02T10:00:00.000Z', 'succeeded'], ['2026-04-02T11:00:00.000Z', 'succeeded'], ['2026-04-02T12:00:00.000Z', 'running'],
  ]);
  const queued = arms.slice(queuedFrom);
  release();
  await h.host.scheduler.idle();
  assert.deepEqual((await occurrences(w.id)).map(([, status]) => status), ['succeeded', 'succeeded', 'succeeded']);
  assert.deepEqual(scheduledOf(w.id), ['2026-04-02 10:00:00', '2026-04-02 11:00:00', '2026-04-02 12:00:00']);
  const runs = await runsOf(w.id);
  assert.equal(runs.length, 3);
  assert.ok(runs.every((r) => r.trigger === 'schedule' && r.status === 'succeeded'));
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);

  // While an occurrence waited, the scheduler should have slept until the running one ended
  // (or its lease ran out), not armed its timer for the present moment again and again.
  const spins = queued.filter((a) => a.atMs <= a.now);
  assert.equal(spins.length, 0, `the scheduler re-armed for "now" ${spins.length} times in ${queued.length} passes while an occurrence was queued (busy loop)`);
});

test('overlap allow: the next occurrence runs while the previous one still goes', async () => {
  await moveTo('2026-04-03T09:59:00Z');
  const w = await create({ url: '/workspaces/ov/slow/work', frequency: 'hourly', start: '2026-04-03 10:00:00', timezone: 'UTC', overlap: 'allow' });
  assert.equal(w.overlap, 'allow');
  await moveTo('2026-04-03T10:00:00Z');
  await waitSlow(w.id, 1);
  await moveTo('2026-04-03T11:00:00Z');
  await waitSlow(w.id, 2); // both calls are held at once
  assert.equal(held.length, 2);
  assert.deepEqual(await occurrences(w.id), [['2026-04-03T10:00:00.000Z', 'running'], ['2026-04-03T11:00:00.000Z', 'running']]);
  release();
  await h.host.scheduler.idle();
  assert.deepEqual(await occurrences(w.id), [['2026-04-03T10:00:00.000Z', 'succeeded'], ['2026-04-03T11:00:00.000Z', 'succeeded']]);
  assert.deepEqual(scheduledOf(w.id), ['2026-04-03 10:00:00', '2026-04-03 11:00:00']);
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});

test('noRetry from a plugin route: a 500 with x-plughost-no-retry or a thrown {noRetry: true} is not retried; a plain 500 is', async () => {
  await moveTo('2026-04-04T08:59:00Z');
  const ids: Record<string, string> = {};
  for (const route of ['refuse', 'giveup', 'broken']) {
    ids[route] = (await create({ url: `/workspaces/ov/slow/${route}`, frequency: 'daily', start: '2026-04-04 09:00:00', timezone: 'UTC' })).id;
  }
  await moveTo('2026-04-04T09:00:00Z');
  await h.host.scheduler.idle();
  for (let i = 0; i < 60; i++) { // ten virtual minutes in 10 s steps
    await clock.advance(10_000);
    await h.host.scheduler.idle();
  }

  // (A route run records the plugin's execution, which went fine; the occurrence is what failed.)
  const refuse = await runsOf(ids.refuse!);
  assert.equal(refuse.length, 1);
  assert.equal(refuse[0].httpStatus, 500);
  const giveup = await runsOf(ids.giveup!);
  assert.equal(giveup.length, 1);
  assert.equal(giveup[0].status, 'failed');
  assert.equal(giveup[0].error.code, 'PLUGIN_ERROR');
  for (const id of [ids.refuse!, ids.giveup!]) {
    const occ = (await h.api('GET', `${BASE}/${id}`)).body.occurrences;
    assert.equal(occ.length, 1);
    assert.equal(occ[0].status, 'failed');
    assert.equal(occ[0].attempt, 1);
  }
  const broken = await runsOf(ids.broken!);
  assert.deepEqual(broken.map((r) => [r.trigger, r.attempt, r.httpStatus]), [['schedule', 1, 500], ['retry', 2, 500], ['retry', 3, 500], ['retry', 4, 500]]);
  assert.equal(new Set(broken.map((r) => r.idempotencyKey)).size, 1);
  const brokenOcc = (await h.api('GET', `${BASE}/${ids.broken}`)).body.occurrences;
  assert.equal(brokenOcc[0].status, 'failed');
  assert.equal(brokenOcc[0].attempt, 4);
  for (const id of Object.values(ids)) assert.equal((await h.api('DELETE', `${BASE}/${id}`)).status, 204);
});
