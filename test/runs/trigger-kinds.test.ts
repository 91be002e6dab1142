// One run path: every trigger kind goes through `execute` and leaves exactly one run with the
// right kind, trigger and status: a route call over HTTP, a scheduled webhook into a plugin
// route and to an outside URL, a Freshworks onScheduledEvent and a Haplo hook, each fired by
// the scheduler and by hand, and failures before the sandbox (a webhook to a route nobody
// serves, a schedule whose installation was deactivated). An HTTP call refused before any
// code runs (404, 401) records nothing: anonymous callers cannot write to the run history.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import type { Run } from '../../runtime/store/runs.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const WS = 'kinds';
const fixtures = path.join(import.meta.dirname, '../schedule/fixtures');
const filesOf = (dir: string) => Object.fromEntries(fs.readdirSync(path.join(fixtures, dir)).map((f) => [f, fs.readFileSync(path.join(fixtures, dir, f), 'utf8')]));
const clock = createVirtualClock(Date.parse('2026-05-01T10:00:00.000Z'));
const MIN = 60_000;
let h: TestHost;
let outside: StubServer;
let fw: string; // the Freshworks app's installation
let haplo: string; // the Haplo hooks plugin's installation
const recorded: Run[] = [];

before(async () => {
  outside = await startStub((_req, res) => { res.writeHead(204); res.end(); });
  h = await startHost({ clock, egressAllow: ['127.0.0.1'] });
  h.host.events.on('run:finished', (run) => { if (run.workspaceId === WS) recorded.push(run); });
  for (const dir of ['fw-reminders', 'haplo-hooks']) assert.equal((await h.publish(filesOf(dir))).status, 201, dir);
  const route = await h.publish({
    'plugin.json': { name: 'echo-route', version: '1.0.0', namespace: 'echo', services: [{ route: 'hi', main: 'hi.js', access: 'signed' }] },
    'hi.js': 'exports.run = function (e) { e.response.json({ hi: true }); };\n',
  });
  assert.equal(route.status, 201, JSON.stringify(route.body));
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: WS, name: WS })).status, 201);
  fw = (await h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'fw-reminders', iparams: { greeting: 'hi' } })).body.id;
  haplo = (await h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'haplo-hooks' })).body.id;
  assert.equal((await h.api('POST', `/api/v1/workspaces/${WS}/installations`, { plugin: 'echo-route' })).status, 201);
});
after(async () => {
  await h.close();
  await outside.close();
});

/** Runs `act` and returns the runs it recorded (exactly the ones finished meanwhile). */
async function runsOf(act: () => Promise<unknown>): Promise<Run[]> {
  const from = recorded.length;
  await act();
  // A route's response goes out before its run is recorded: wait for every run in flight.
  await h.host.executor.idle();
  await h.host.recorder.flush();
  return recorded.slice(from);
}
const one = (runs: Run[]): Run => {
  assert.equal(runs.length, 1, `exactly one run, got ${JSON.stringify(runs.map((r) => `${r.kind}/${r.trigger}/${r.status}`))}`);
  return runs[0]!;
};
/** The run as the API answers it (it was written, not only announced). */
const stored = async (run: Run) => (await h.api('GET', `/api/v1/workspaces/${WS}/runs/${run.id}`)).body;
const webhook = async (url: string) => {
  const created = await h.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks`, { url, frequency: 'daily', start: '2099-01-01 09:00', retries: 0 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id as string;
};

test('a route call over HTTP: kind route, trigger http', async () => {
  const token = (await h.api('POST', `/api/v1/workspaces/${WS}/tokens`)).body.token;
  const run = one(await runsOf(async () => {
    const res = await fetch(`${h.url}/workspaces/${WS}/echo/hi`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  }));
  assert.deepEqual([run.kind, run.trigger, run.status, run.httpStatus], ['route', 'http', 'succeeded', 200]);
  assert.equal((await stored(run)).id, run.id);
});

test('an HTTP call refused before any code runs records no run', async () => {
  const runs = await runsOf(async () => {
    assert.equal((await fetch(`${h.url}/workspaces/${WS}/echo/nothing-here`)).status, 404);
    assert.equal((await fetch(`${h.url}/workspaces/${WS}/echo/hi`)).status, 401);
  });
  assert.deepEqual(runs, []);
});

test('a scheduled webhook into a plugin route, run by hand: kind webhook, trigger manual', async () => {
  const id = await webhook(`/workspaces/${WS}/echo/hi`);
  const run = one(await runsOf(async () => assert.equal((await h.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks/${id}/run`)).status, 200)));
  assert.deepEqual([run.kind, run.trigger, run.status, run.scheduleId], ['webhook', 'manual', 'succeeded', id]);
});

test('a scheduled webhook to an outside URL, run by hand', async () => {
  const id = await webhook(`${outside.url}/tick`);
  const run = one(await runsOf(async () => assert.equal((await h.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks/${id}/run`)).status, 200)));
  assert.deepEqual([run.kind, run.trigger, run.status, run.httpStatus, run.installationId], ['webhook', 'manual', 'succeeded', 204, null]);
});

test('a scheduled webhook to a route nobody serves fails before the sandbox, as one run', async () => {
  const id = await webhook(`/workspaces/${WS}/echo/gone`);
  const run = one(await runsOf(async () => assert.equal((await h.api('POST', `/api/v1/workspaces/${WS}/scheduled-webhooks/${id}/run`)).status, 200)));
  assert.deepEqual([run.kind, run.trigger, run.status, run.error?.code], ['webhook', 'manual', 'failed', 'ROUTE_NOT_FOUND']);
  assert.equal((await stored(run)).error.code, 'ROUTE_NOT_FOUND');
});

test('onScheduledEvent by hand and by the scheduler: kind event, triggers manual and schedule', { timeout: 60_000 }, async () => {
  const manual = one(await runsOf(async () => assert.equal((await h.api('POST', `/api/v1/workspaces/${WS}/installations/${fw}/events/onScheduledEvent`, { data: { n: 1 } })).status, 200)));
  assert.deepEqual([manual.kind, manual.trigger, manual.status, manual.installationId], ['event', 'manual', 'succeeded', fw]);
  const res = await fetch(`${h.url}/workspaces/${WS}/fw/sched`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'create', args: { name: 'soon', data: { n: 2 }, schedule_at: new Date(clock.now() + 5 * MIN).toISOString() } }),
  });
  assert.equal(res.status, 200);
  const fired = await runsOf(async () => {
    const done = h.host.events.waitFor('occurrence:finished');
    await clock.advance(5 * MIN);
    await done;
  });
  const run = one(fired.filter((r) => r.kind === 'event'));
  assert.deepEqual([run.trigger, run.status, run.target], ['schedule', 'succeeded', 'onScheduledEvent soon']);
});

test('a Haplo hook by hand and by the scheduler: kind hook', { timeout: 60_000 }, async () => {
  const manual = one(await runsOf(async () => assert.equal((await h.api('POST', `/api/v1/workspaces/${WS}/installations/${haplo}/hooks/hScheduleHourly`, {})).status, 200)));
  assert.deepEqual([manual.kind, manual.trigger, manual.status, manual.target], ['hook', 'manual', 'succeeded', 'hScheduleHourly']);
  // Minute by minute up to the next hour: the slot fires when due, not late (a jump past it is a catch-up).
  const from = recorded.length;
  const fired = await runsOf(async () => {
    for (let i = 0; i <= 60 && !recorded.slice(from).some((r) => r.target === 'hScheduleHourly'); i++) {
      await clock.advance(MIN);
      await h.host.scheduler.idle();
    }
  });
  const hourly = fired.filter((r) => r.target === 'hScheduleHourly');
  assert.ok(hourly.length >= 1, 'the hourly hook fired');
  for (const run of hourly) assert.deepEqual([run.kind, run.trigger, run.status, run.installationId], ['hook', 'schedule', 'succeeded', haplo]);
});

test('a schedule whose installation was deactivated fails before the sandbox, as one run', async () => {
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/${WS}/installations/${haplo}`, { active: false })).status, 200);
  const schedules = (await h.api('GET', `/api/v1/workspaces/${WS}/schedules`)).body.data as Array<{ id: string; name: string; kind: string }>;
  const hourly = schedules.find((s) => s.kind === 'hook' && s.name === 'hScheduleHourly');
  assert.ok(hourly, JSON.stringify(schedules));
  const ran = await h.api('POST', `/api/v1/workspaces/${WS}/schedules/${hourly.id}/run`);
  assert.equal(ran.status, 200, JSON.stringify(ran.body));
  assert.equal(ran.body.run.status, 'failed');
  assert.equal(ran.body.run.error.code, 'INSTALLATION_NOT_FOUND');
  assert.equal(ran.body.run.kind, 'hook');
  assert.match(ran.body.run.error.message, /inactive/);
});
