// The misfire rules, exactly as the README's Schedules table states them: the planner (a pure
// function) for each policy × downtime (shorter / longer than the grace period) × one or many
// missed slots, with the host grace and with a schedule's own grace; then end to end through
// the scheduler on the virtual clock: a webhook's own `misfireGraceSeconds`, manual runs that
// are never retried, "run now" consuming a one-time plugin schedule, and health().
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { planSchedule } from '../../runtime/schedule/planner.ts';
import type { MisfirePolicy, Schedule } from '../../runtime/store/schedules.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const MIN = 60_000;
const T0 = Date.parse('2026-06-01T00:00:00Z');

/** A schedule due every `everyMs` from T0, next due at T0. */
function schedule(misfire: MisfirePolicy, everyMs: number, misfireGraceMs?: number | null): Schedule {
  return {
    id: 'sch_t', workspaceId: 'w', installationId: null, kind: 'plugin', name: 't', uniqueKey: 't', spec: {}, recurrence: { type: 'interval', at: T0, everyMs },
    active: true, nextRunAt: T0, misfire, overlap: 'skip', maxRetries: 0, secret: null, createdAt: T0, updatedAt: T0,
    ...(misfireGraceMs !== undefined ? { misfireGraceMs } : {}),
  };
}

// Slots are named by their index k (due at T0 + k × every); `now` is when the host is back.
// Each case: [label, every, now offset, missed slots]. The host grace is 60 s.
const GRACE = MIN;
const cases = {
  // Downtime shorter than the grace period: every missed slot is on time.
  shortOne: { every: 10 * MIN, now: 30_000, missed: 1 }, // slot 0, 30 s behind
  shortMany: { every: 10_000, now: 45_000, missed: 5 }, // slots 0..4 (0, 10, 20, 30, 40 s), all within 60 s
  // Downtime longer than the grace period.
  longOne: { every: 10 * MIN, now: 5 * MIN, missed: 1 }, // slot 0, late
  longManyAllLate: { every: 10 * MIN, now: 35 * MIN, missed: 4 }, // slots 0..3, newest 5 min behind: all late
  longManyNewestOnTime: { every: 10 * MIN, now: 30 * MIN + 30_000, missed: 4 }, // slots 0..2 late, slot 3 30 s behind
} as const;
type Case = keyof typeof cases;
type Expect = Array<[slot: number, trigger: 'schedule' | 'catch-up']>;

// The README table, cell by cell (catchUpCap 2 for `all`, so the cap shows).
const table: Record<MisfirePolicy, Record<Case, Expect>> = {
  coalesce: {
    shortOne: [[0, 'schedule']], shortMany: [[4, 'schedule']], longOne: [[0, 'catch-up']],
    longManyAllLate: [[3, 'catch-up']], longManyNewestOnTime: [[3, 'schedule']],
  },
  skip: {
    shortOne: [[0, 'schedule']], shortMany: [[4, 'schedule']], longOne: [],
    longManyAllLate: [], longManyNewestOnTime: [[3, 'schedule']],
  },
  all: {
    shortOne: [[0, 'schedule']], shortMany: [[0, 'schedule'], [1, 'schedule'], [2, 'schedule'], [3, 'schedule'], [4, 'schedule']],
    longOne: [[0, 'catch-up']], longManyAllLate: [[2, 'catch-up'], [3, 'catch-up']],
    longManyNewestOnTime: [[1, 'catch-up'], [2, 'catch-up'], [3, 'schedule']],
  },
};

for (const policy of ['coalesce', 'skip', 'all'] as const) {
  for (const [name, c] of Object.entries(cases) as Array<[Case, (typeof cases)[Case]]>) {
    test(`planner: ${policy} × ${name}`, () => {
      const s = schedule(policy, c.every);
      const plan = planSchedule(s, T0 + c.now, GRACE, 2);
      assert.deepEqual(plan.occurrences, table[policy][name].map(([k, trigger]) => ({ dueAt: T0 + k * c.every, trigger })));
      assert.equal(plan.next, T0 + c.missed * c.every, 'the next slot is the first after now');
      // The schedule's own grace wins over the host's: the same case with a host grace that
      // would say otherwise (0 makes everything late, a day makes nothing late) and the schedule's 60 s.
      for (const host of [0, 86_400_000]) assert.deepEqual(planSchedule(schedule(policy, c.every, GRACE), T0 + c.now, host, 2).occurrences, plan.occurrences);
      // null means the host default.
      assert.deepEqual(planSchedule(schedule(policy, c.every, null), T0 + c.now, GRACE, 2).occurrences, plan.occurrences);
    });
  }
}

test('planner: the boundary — exactly grace behind is on time, 1 ms more is late; grace 0', () => {
  assert.deepEqual(planSchedule(schedule('skip', 10 * MIN), T0 + GRACE, GRACE, 100).occurrences, [{ dueAt: T0, trigger: 'schedule' }]);
  assert.deepEqual(planSchedule(schedule('skip', 10 * MIN), T0 + GRACE + 1, GRACE, 100).occurrences, []);
  assert.deepEqual(planSchedule(schedule('coalesce', 10 * MIN, 0), T0, GRACE, 100).occurrences, [{ dueAt: T0, trigger: 'schedule' }]);
  assert.deepEqual(planSchedule(schedule('coalesce', 10 * MIN, 0), T0 + 1, GRACE, 100).occurrences, [{ dueAt: T0, trigger: 'catch-up' }]);
  assert.deepEqual(planSchedule(schedule('all', 10 * MIN), T0 + 35 * MIN, GRACE, 100).occurrences.length, 4, 'all, under the cap: each');
});

// End to end, through the scheduler on the virtual clock.
const fixture = path.join(import.meta.dirname, 'fixtures/counter');
const fwFixture = path.join(import.meta.dirname, 'fixtures/fw-reminders');
const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
const clock = createVirtualClock(Date.parse('2026-06-01T08:00:00Z'));
let h: TestHost;
const BASE = '/api/v1/workspaces/mt/scheduled-webhooks';

before(async () => {
  h = await startHost({ clock });
  assert.equal((await h.publish({ 'plugin.json': read(fixture, 'plugin.json'), 'plugin.js': read(fixture, 'plugin.js') })).status, 201);
  assert.equal((await h.publish({ 'plugin.json': read(fwFixture, 'plugin.json'), 'server.js': read(fwFixture, 'server.js'), 'routes.js': read(fwFixture, 'routes.js') })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'mt', name: 'Misfire table' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/mt/installations', { plugin: 'counter' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/mt/installations', { plugin: 'fw-reminders', iparams: { greeting: 'hi' } })).status, 201);
});
after(async () => {
  await h.close();
});

const occurrencesOf = async (id: string) => ((await h.api('GET', `${BASE}/${id}`)).body.occurrences as any[])
  .map((o) => [new Date(o.dueAt).toISOString(), o.trigger, o.status]).sort();

test('end to end: misfireGraceSeconds is validated, shown, and used by the planner', async () => {
  for (const bad of [-1, 86_401, 1.5, '60']) {
    const res = await h.api('POST', BASE, { url: '/workspaces/mt/cnt/hit', frequency: 'hourly', misfireGraceSeconds: bad });
    assert.equal(res.status, 400, JSON.stringify(res.body));
  }
  const mk = async (policy: MisfirePolicy, misfireGraceSeconds?: number) => {
    const res = await h.api('POST', BASE, {
      url: `/workspaces/mt/cnt/hit?p=${policy}`, frequency: 'hourly', start: '2026-06-01 09:00:00', timezone: 'UTC', misfire: policy,
      ...(misfireGraceSeconds !== undefined ? { misfireGraceSeconds } : {}),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const defaultGrace = await mk('skip');
  assert.equal(defaultGrace.misfireGraceSeconds, 60, 'the default is 60 s');
  const wide = await mk('skip', 600);
  assert.equal(wide.misfireGraceSeconds, 600);
  const coalesceWide = await mk('coalesce', 600);
  // The host is stuck until 09:05 (the pass runs then): 5 minutes behind.
  await clock.set(Date.parse('2026-06-01T09:05:00Z'));
  await h.host.scheduler.idle();
  assert.deepEqual(await occurrencesOf(defaultGrace.id), [], 'skip, 5 min late with a 60 s grace: no run');
  assert.deepEqual(await occurrencesOf(wide.id), [['2026-06-01T09:00:00.000Z', 'schedule', 'succeeded']], 'within its own 10 min grace: on time');
  assert.deepEqual(await occurrencesOf(coalesceWide.id), [['2026-06-01T09:00:00.000Z', 'schedule', 'succeeded']]);
  // PATCH changes it, and null resets it to the host default.
  const patched = await h.api('PATCH', `${BASE}/${wide.id}`, { misfireGraceSeconds: 0 });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.misfireGraceSeconds, 0);
  const reset = await h.api('PATCH', `${BASE}/${wide.id}`, { misfireGraceSeconds: null });
  assert.equal(reset.body.misfireGraceSeconds, null);
  // Three hours down for the coalesce one (own grace 10 min): one catch-up run for 12:00.
  await clock.set(Date.parse('2026-06-01T12:30:00Z'));
  await h.host.scheduler.idle();
  const after = await occurrencesOf(coalesceWide.id);
  assert.deepEqual(after, [['2026-06-01T09:00:00.000Z', 'schedule', 'succeeded'], ['2026-06-01T12:00:00.000Z', 'catch-up', 'succeeded']]);
  for (const w of [defaultGrace, wide, coalesceWide]) assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});

test('end to end: a failing manual run is final, whatever retries says', async () => {
  // An unreachable absolute URL (no egress allowed) fails every call.
  const res = await h.api('POST', BASE, { url: 'https://nowhere.example/hook', frequency: 'daily', start: '2027-01-01 00:00:00', retries: 5 });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const run = await h.api('POST', `${BASE}/${res.body.id}/run`);
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.equal(run.body.status, 'failed');
  for (let i = 0; i < 12; i++) {
    await clock.advance(10 * MIN);
    await h.host.scheduler.idle();
  }
  const occ = (await h.api('GET', `${BASE}/${res.body.id}`)).body.occurrences as any[];
  assert.equal(occ.length, 1);
  assert.equal(occ[0].trigger, 'manual');
  assert.equal(occ[0].status, 'failed');
  assert.equal(occ[0].attempt, 1, 'not retried');
  await h.api('DELETE', `${BASE}/${res.body.id}`);
});

test('end to end: run now consumes a one-time plugin schedule; a recurring one keeps its time', async () => {
  const sched = async (args: unknown) => {
    const r = await fetch(`${h.url}/workspaces/mt/fw/sched`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'create', args }) });
    const body = JSON.parse(await r.text());
    assert.ok(body.ok, JSON.stringify(body));
  };
  const due = clock.now() + 30 * MIN;
  await sched({ name: 'once', data: { a: 1 }, schedule_at: new Date(due).toISOString() });
  await sched({ name: 'every', data: { a: 2 }, schedule_at: new Date(due).toISOString(), repeat: { time_unit: 'hours', frequency: 1 } });
  const list = async () => (await h.api('GET', '/api/v1/workspaces/mt/schedules')).body.data as any[];
  const once = (await list()).find((s) => s.name === 'once');
  const every = (await list()).find((s) => s.name === 'every');
  assert.equal(once.misfireGraceSeconds, 60, 'plugin schedules show the host grace');
  for (const s of [once, every]) {
    const r = await h.api('POST', `/api/v1/workspaces/mt/schedules/${s.id}/run`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded');
  }
  const now = await list();
  assert.equal(now.find((s) => s.name === 'once').nextRunAt, null, 'consumed');
  assert.equal(now.find((s) => s.name === 'every').nextRunAt, new Date(due).toISOString(), 'recurring: unchanged');
  await clock.set(due);
  await h.host.scheduler.idle();
  const occ = async (id: string) => ((await h.api('GET', `/api/v1/workspaces/mt/schedules/${id}`)).body.occurrences as any[]).map((o) => o.trigger).sort();
  assert.deepEqual(await occ(once.id), ['manual'], 'it did not fire again at its time');
  assert.deepEqual(await occ(every.id), ['manual', 'schedule']);
});

test('health(): passes, lastPassAt on the virtual clock, pollMs', async () => {
  await h.host.scheduler.idle();
  const before = h.host.scheduler.health();
  assert.equal(before.pollMs, 5000);
  assert.ok(before.passes > 0);
  await clock.advance(7 * MIN);
  await h.host.scheduler.idle();
  const later = h.host.scheduler.health();
  assert.ok(later.passes > before.passes);
  assert.equal(later.lastPassAt, clock.now());
});
