// Haplo schedule hooks: a plugin registering hScheduleHourly and the four daily hooks with
// `P.hook` in an Asia/Tokyo workspace. Over one virtual day each daily hook fires once at its
// local hour with (response, year, month0to11, dayOfMonth, hour, dayOfWeek) and the hourly
// one 24 times; the schedules are listed with next run times; one installation's failing
// hook (retried with backoff) does not stop another's; deactivating an installation stops
// its hooks and reactivating resumes them without catch-up; `POST …/schedules/:id/run` runs
// one now.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/haplo-hooks');
const read = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
const MIN = 60_000;
const HOUR = 60 * MIN;
// Local 23:45 on Saturday 2 May 2026 in Tokyo (UTC+9); Sunday 3 May starts at 15:00Z.
const clock = createVirtualClock(Date.parse('2026-05-02T14:45:00.000Z'));
let h: TestHost;
const installs: Record<string, string> = {};

const iso = (ms: number) => new Date(ms).toISOString();
const at = (s: string) => Date.parse(s);

before(async () => {
  h = await startHost({ clock });
  const published = await h.publish({ 'plugin.json': read('plugin.json'), 'plugin.js': read('plugin.js') });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const thrower = await h.publish({
    'plugin.json': { name: 'haplo-thrower', version: '1.0.0', namespace: 'ht', main: 'plugin.js', limits: { timeoutMs: 2000 } },
    'plugin.js': "P.hook('hScheduleDailyEarly', function () { throw new Error('early hook broke'); });\n",
  });
  assert.equal(thrower.status, 201, JSON.stringify(thrower.body));
  for (const ws of ['tokyo', 'osaka']) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws, timezone: 'Asia/Tokyo' })).status, 201);
  }
  for (const [ws, plugin] of [['tokyo', 'haplo-hooks'], ['osaka', 'haplo-hooks'], ['osaka', 'haplo-thrower']] as const) {
    const inst = await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin });
    assert.equal(inst.status, 201, JSON.stringify(inst.body));
    installs[`${ws}/${plugin}`] = inst.body.id;
  }
});
after(async () => {
  await h.close();
});

async function step(ms: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await clock.advance(ms);
    await h.host.scheduler.idle();
  }
}

async function schedules(ws: string): Promise<any[]> {
  const res = await h.api('GET', `/api/v1/workspaces/${ws}/schedules`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

/** Hook runs of an installation, oldest first, with what the hook logged. */
async function hookRuns(ws: string, installationId: string): Promise<Array<any & { logged: any }>> {
  const list = await h.api('GET', `/api/v1/workspaces/${ws}/runs?kind=hook&installation=${installationId}&limit=200`);
  assert.equal(list.status, 200);
  const out = [];
  for (const r of [...list.body.data].sort((a, b) => a.startedAt - b.startedAt || a.attempt - b.attempt)) {
    const full = (await h.api('GET', `/api/v1/workspaces/${ws}/runs/${r.id}`)).body;
    const line = (full.log as string).split('\n').find((l) => l.includes('HOOK '));
    out.push({ ...full, logged: line ? JSON.parse(line.slice(line.indexOf('HOOK ') + 5)) : undefined });
  }
  return out;
}

test('the hook schedules are listed in the workspace zone with their next run times', async () => {
  const list = await schedules('tokyo');
  const byName = new Map(list.map((s) => [s.name, s]));
  assert.deepEqual([...byName.keys()].sort(), ['hScheduleDailyEarly', 'hScheduleDailyLate', 'hScheduleDailyMidday', 'hScheduleDailyMidnight', 'hScheduleHourly']);
  const expected: Record<string, [string, string]> = {
    hScheduleHourly: ['2026-05-02T15:00:00.000Z', '2026-05-03 00:00:00'],
    hScheduleDailyMidnight: ['2026-05-02T15:00:00.000Z', '2026-05-03 00:00:00'],
    hScheduleDailyEarly: ['2026-05-02T21:00:00.000Z', '2026-05-03 06:00:00'],
    hScheduleDailyMidday: ['2026-05-03T03:00:00.000Z', '2026-05-03 12:00:00'],
    hScheduleDailyLate: ['2026-05-03T09:00:00.000Z', '2026-05-03 18:00:00'],
  };
  for (const [name, [utc, local]] of Object.entries(expected)) {
    const s = byName.get(name);
    assert.equal(s.kind, 'hook');
    assert.equal(s.installationId, installs['tokyo/haplo-hooks']);
    assert.equal(s.active, true);
    assert.equal(s.timezone, 'Asia/Tokyo');
    assert.equal(s.retries, 3, 'hooks default to 3 retries');
    assert.equal(s.nextRunAt, utc, name);
    assert.equal(s.nextRunAtLocal, local, name);
  }
});

test('over one virtual day each daily hook fires once at its local hour and the hourly one 24 times', async () => {
  await step(15 * MIN, 24 * 4); // to 2026-05-03T14:45Z, local 23:45 on Sunday 3 May
  const runs = await hookRuns('tokyo', installs['tokyo/haplo-hooks']!);
  assert.ok(runs.every((r) => r.status === 'succeeded' && r.trigger === 'schedule' && r.kind === 'hook'), JSON.stringify(runs.filter((r) => r.status !== 'succeeded').map((r) => r.error)));
  const of = (name: string) => runs.filter((r) => r.target === name);

  const hourly = of('hScheduleHourly');
  assert.equal(hourly.length, 24);
  assert.deepEqual(hourly.map((r) => r.startedAt), Array.from({ length: 24 }, (_, k) => at('2026-05-02T15:00:00Z') + k * HOUR));
  // May is month 4 (0-11); 3 May 2026 is a Sunday (0).
  assert.deepEqual(hourly.map((r) => r.logged.args), Array.from({ length: 24 }, (_, k) => [2026, 4, 3, k, 0]));

  const daily: Array<[string, string, number]> = [
    ['hScheduleDailyMidnight', '2026-05-02T15:00:00.000Z', 0],
    ['hScheduleDailyEarly', '2026-05-02T21:00:00.000Z', 6],
    ['hScheduleDailyMidday', '2026-05-03T03:00:00.000Z', 12],
    ['hScheduleDailyLate', '2026-05-03T09:00:00.000Z', 18],
  ];
  for (const [name, utc, hour] of daily) {
    const fired = of(name);
    assert.equal(fired.length, 1, `${name} fired ${fired.length} times`);
    assert.equal(iso(fired[0].startedAt), utc, name);
    assert.deepEqual(fired[0].logged.args, [2026, 4, 3, hour, 0], name);
  }
  for (const r of runs) {
    assert.equal(r.logged.argc, 6, 'called as (response, year, month, day, hour, dayOfWeek)');
    assert.equal(r.logged.response.idempotencyKey, r.idempotencyKey, 'the response carries the occurrence key');
  }
  assert.equal(runs.length, 28);

  const next = new Map((await schedules('tokyo')).map((s) => [s.name, s.nextRunAtLocal]));
  assert.equal(next.get('hScheduleHourly'), '2026-05-04 00:00:00');
  assert.equal(next.get('hScheduleDailyEarly'), '2026-05-04 06:00:00');
  assert.equal(next.get('hScheduleDailyLate'), '2026-05-04 18:00:00');
});

test('one installation\'s failing hook does not stop another\'s; it is retried with backoff', async () => {
  // Now 2026-05-03T14:45Z; local 06:00 on Monday 4 May is 21:00Z.
  const good = installs['osaka/haplo-hooks']!;
  const bad = installs['osaka/haplo-thrower']!;
  assert.deepEqual((await schedules('osaka')).filter((s) => s.installationId === bad).map((s) => s.name), ['hScheduleDailyEarly']);
  const since = clock.now(); // both have been firing since 2 May; look at this morning only
  while (clock.now() < at('2026-05-03T21:00:00Z')) await step(15 * MIN, 1);
  assert.equal(clock.now(), at('2026-05-03T21:00:00Z'));
  await step(10_000, 60); // fine steps, so each retry runs the moment it is due

  const goodRuns = (await hookRuns('osaka', good)).filter((r) => r.startedAt >= since);
  const goodEarly = goodRuns.filter((r) => r.target === 'hScheduleDailyEarly');
  assert.equal(goodEarly.length, 1);
  assert.equal(goodEarly[0].status, 'succeeded');
  assert.equal(goodEarly[0].startedAt, at('2026-05-03T21:00:00Z'));
  assert.deepEqual(goodEarly[0].logged.args, [2026, 4, 4, 6, 1]);
  assert.ok(goodRuns.every((r) => r.status === 'succeeded'));

  const badRuns = (await hookRuns('osaka', bad)).filter((r) => r.startedAt >= since);
  assert.deepEqual(badRuns.map((r) => r.attempt), [1, 2, 3, 4], 'the first attempt and 3 retries');
  assert.deepEqual(badRuns.map((r) => r.trigger), ['schedule', 'retry', 'retry', 'retry']);
  assert.ok(badRuns.every((r) => r.status === 'failed' && /early hook broke/.test(r.error.message)));
  assert.equal(new Set(badRuns.map((r) => r.idempotencyKey)).size, 1, 'retries keep the idempotency key');
  const starts = badRuns.map((r) => r.startedAt);
  assert.equal(starts[0], at('2026-05-03T21:00:00Z'));
  const backoff = h.host.options.schedules.backoffMs;
  assert.equal(backoff, 30_000);
  assert.deepEqual(starts.slice(1).map((t, i) => t - starts[i]!), [backoff, 2 * backoff, 4 * backoff], `exponential backoff: ${starts.map(iso)}`);

  const occ = await h.api('GET', `/api/v1/workspaces/osaka/schedules/${badRuns[0].scheduleId}`);
  const today = occ.body.occurrences.find((o: { idempotencyKey: string }) => o.idempotencyKey === badRuns[0].idempotencyKey);
  assert.equal(today.status, 'failed');
  assert.equal(today.attempt, 4);
  assert.equal(today.trigger, 'schedule');
});

test('deactivating an installation stops its hooks; reactivating resumes them without catch-up', async () => {
  const inst = installs['tokyo/haplo-hooks']!;
  await clock.set(Math.ceil(clock.now() / HOUR) * HOUR); // 2026-05-03T22:00Z
  await h.host.scheduler.idle();
  assert.equal(clock.now(), at('2026-05-03T22:00:00Z'));
  const before = (await hookRuns('tokyo', inst)).length;

  const off = await h.api('PATCH', `/api/v1/workspaces/tokyo/installations/${inst}`, { active: false });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.ok((await schedules('tokyo')).every((s) => s.active === false));
  await step(HOUR, 24);
  assert.equal((await hookRuns('tokyo', inst)).length, before, 'no hook ran while inactive');

  const on = await h.api('PATCH', `/api/v1/workspaces/tokyo/installations/${inst}`, { active: true });
  assert.equal(on.status, 200, JSON.stringify(on.body));
  const list = await schedules('tokyo');
  assert.ok(list.every((s) => s.active === true));
  assert.equal(list.find((s) => s.name === 'hScheduleHourly').nextRunAt, '2026-05-04T23:00:00.000Z');
  assert.equal(list.find((s) => s.name === 'hScheduleDailyEarly').nextRunAt, '2026-05-05T21:00:00.000Z');
  await h.host.scheduler.idle();
  assert.equal((await hookRuns('tokyo', inst)).length, before, 'the paused day is not caught up');

  await step(HOUR, 1);
  const runs = (await hookRuns('tokyo', inst)).slice(before);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].target, 'hScheduleHourly');
  assert.equal(runs[0].trigger, 'schedule');
  assert.equal(runs[0].status, 'succeeded');
  // 2026-05-04T23:00Z is 08:00 on Tuesday 5 May in Tokyo.
  assert.deepEqual(runs[0].logged.args, [2026, 4, 5, 8, 2]);
});

test('POST …/schedules/:id/run runs a hook now', async () => {
  const inst = installs['tokyo/haplo-hooks']!;
  const late = (await schedules('tokyo')).find((s) => s.name === 'hScheduleDailyLate');
  const res = await h.api('POST', `/api/v1/workspaces/tokyo/schedules/${late.id}/run`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, 'succeeded');
  assert.equal(typeof res.body.occurrenceId, 'string');
  assert.equal(res.body.run.kind, 'hook');
  assert.equal(res.body.run.trigger, 'manual');
  assert.equal(res.body.run.status, 'succeeded');
  assert.equal(res.body.run.target, 'hScheduleDailyLate');
  assert.equal(res.body.run.installationId, inst);
  assert.equal(res.body.run.idempotencyKey, res.body.idempotencyKey);
  const line = (res.body.run.log as string).split('\n').find((l) => l.includes('HOOK '))!;
  // Called with the current local time: 2026-05-05 08:00 (Tuesday).
  assert.deepEqual(JSON.parse(line.slice(line.indexOf('HOOK ') + 5)).args, [2026, 4, 5, 8, 2]);
  // Running it now does not move its next scheduled time.
  assert.equal((await schedules('tokyo')).find((s) => s.name === 'hScheduleDailyLate').nextRunAt, late.nextRunAt);
  const detail = await h.api('GET', `/api/v1/workspaces/tokyo/schedules/${late.id}`);
  assert.equal(detail.body.occurrences.find((o: { id: string }) => o.id === res.body.occurrenceId).trigger, 'manual');

  const unknown = await h.api('POST', '/api/v1/workspaces/tokyo/schedules/hk_nope/run');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'SCHEDULE_NOT_FOUND');
  // Another workspace's hook is not found through this workspace.
  const osakaHook = (await schedules('osaka'))[0];
  const cross = await h.api('POST', `/api/v1/workspaces/tokyo/schedules/${osakaHook.id}/run`);
  assert.equal(cross.status, 404);
  assert.equal(cross.body.error.code, 'SCHEDULE_NOT_FOUND');
  // A token of another workspace is refused.
  const token = await h.api('POST', '/api/v1/workspaces/osaka/tokens', {});
  assert.equal(token.status, 201, JSON.stringify(token.body));
  const forbidden = await h.api('POST', `/api/v1/workspaces/tokyo/schedules/${late.id}/run`, undefined, token.body.token);
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error.code, 'FORBIDDEN');
  assert.equal((await h.api('GET', '/api/v1/workspaces/tokyo/schedules', undefined, token.body.token)).status, 403);
});

test('a new version that drops a hook loses its schedule; uninstalling removes the rest', async () => {
  const published = await h.publish({
    'plugin.json': { ...JSON.parse(read('plugin.json')), version: '1.1.0' },
    'plugin.js': "P.hook('hScheduleHourly', function (response, year, month, day, hour) { console.log('HOOK ' + JSON.stringify({ name: 'hScheduleHourly', args: [year, month, day, hour], v: '1.1.0' })); });\n",
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const inst = installs['osaka/haplo-hooks']!;
  const before = (await schedules('osaka')).filter((s) => s.installationId === inst);
  assert.equal(before.length, 5);
  const upgraded = await h.api('PATCH', `/api/v1/workspaces/osaka/installations/${inst}`, { version: '1.1.0' });
  assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
  const after = (await schedules('osaka')).filter((s) => s.installationId === inst);
  assert.deepEqual(after.map((s) => s.name), ['hScheduleHourly']);
  assert.equal(after[0].id, before.find((s) => s.name === 'hScheduleHourly').id, 'the kept hook keeps its schedule');

  const since = clock.now();
  await clock.set(Math.ceil((clock.now() + 1) / HOUR) * HOUR);
  await h.host.scheduler.idle();
  const runs = (await hookRuns('osaka', inst)).filter((r) => r.startedAt > since);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].logged.v, '1.1.0', 'the new code runs');

  const bad = installs['osaka/haplo-thrower']!;
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/osaka/installations/${bad}`)).status, 204);
  assert.deepEqual((await schedules('osaka')).filter((s) => s.installationId === bad), []);
});
