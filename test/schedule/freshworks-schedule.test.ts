// Seed 001, Freshworks `$schedule` on the scheduler: a `server.js` app in the Freshworks idiom
// (`exports = {...}`, `events.onScheduledEvent.handler`) with a route that drives `$schedule`
// over HTTP. Covers every rule's rejection `{status, message}` (400 bad name/data/schedule_at,
// data over 4 KB, under 5 minutes ahead; 429 over the one-time and recurring limits; 409 a
// taken name; 404 unknown names), fetch/update/delete, a 5-minute repeat firing 12 times in
// a virtual hour, `days` keeping schedule_at's time of day, the handler payload, no retry of
// a throwing handler, and PLUGIN_NO_HANDLER for a plugin without `onScheduledEvent`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/fw-reminders');
const read = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
const MIN = 60_000;
const HOUR = 60 * MIN;
const clock = createVirtualClock(Date.parse('2026-05-01T10:00:00.000Z'));
let h: TestHost;

const iso = (ms: number) => new Date(ms).toISOString();

before(async () => {
  h = await startHost({ clock, schedules: { maxOneTime: 3 } });
  const published = await h.publish({ 'plugin.json': read('plugin.json'), 'server.js': read('server.js'), 'routes.js': read('routes.js') });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const noHandler = await h.publish({
    'plugin.json': { name: 'fw-no-handler', version: '1.0.0', namespace: 'fwx', services: [{ route: 'sched', main: 'routes.js', access: 'public' }], limits: { timeoutMs: 2000 } },
    'routes.js': read('routes.js'),
  });
  assert.equal(noHandler.status, 201, JSON.stringify(noHandler.body));
});
after(async () => {
  await h.close();
});

/** A workspace with the app installed (iparam greeting = `hello <ws>`). */
async function workspace(ws: string, plugin = 'fw-reminders'): Promise<void> {
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
  const inst = await h.api('POST', `/api/v1/workspaces/${ws}/installations`, plugin === 'fw-reminders' ? { plugin, iparams: { greeting: `hello ${ws}` } } : { plugin });
  assert.equal(inst.status, 201, JSON.stringify(inst.body));
}

type ScheduleAnswer = { ok: true; value: any } | { ok: false; error: { status: number; message: string } };

/** Calls `$schedule[op](args)` inside the app through its route. */
async function sched(ws: string, op: string, args: unknown, namespace = 'fw'): Promise<ScheduleAnswer> {
  const res = await fetch(`${h.url}/workspaces/${ws}/${namespace}/sched`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op, args }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text) as ScheduleAnswer;
}

async function rejects(ws: string, op: string, args: unknown, status: number, message?: RegExp): Promise<void> {
  const answer = await sched(ws, op, args);
  assert.equal(answer.ok, false, `${op} ${String(JSON.stringify(args)).slice(0, 200)} should reject with ${status}`);
  if (answer.ok) return;
  assert.equal(answer.error.status, status, answer.error.message);
  assert.equal(typeof answer.error.message, 'string');
  assert.ok(answer.error.message.length > 0);
  if (message) assert.match(answer.error.message, message);
}

async function resolves(ws: string, op: string, args: unknown): Promise<any> {
  const answer = await sched(ws, op, args);
  assert.ok(answer.ok, `${op} ${String(JSON.stringify(args)).slice(0, 200)} rejected: ${JSON.stringify(answer)}`);
  return answer.value;
}

async function scheduleOf(ws: string, name: string): Promise<any> {
  const list = await h.api('GET', `/api/v1/workspaces/${ws}/schedules`);
  assert.equal(list.status, 200);
  return list.body.data.find((s: { name: string }) => s.name === name);
}

/** The event runs of a schedule (or the workspace), oldest first. */
async function eventRuns(ws: string, scheduleId?: string): Promise<any[]> {
  const res = await h.api('GET', `/api/v1/workspaces/${ws}/runs?kind=event&limit=200${scheduleId ? `&schedule=${scheduleId}` : ''}`);
  assert.equal(res.status, 200);
  return [...res.body.data].sort((a, b) => a.startedAt - b.startedAt);
}

async function payloadOf(ws: string, runId: string): Promise<any> {
  const run = await h.api('GET', `/api/v1/workspaces/${ws}/runs/${runId}`);
  assert.equal(run.status, 200);
  const line = (run.body.log as string).split('\n').find((l) => l.includes('PAYLOAD '));
  assert.ok(line, `no payload in the log: ${run.body.log}`);
  return JSON.parse(line.slice(line.indexOf('PAYLOAD ') + 'PAYLOAD '.length));
}

/** Moves the clock `n` steps of `ms`, letting the scheduler finish after each. */
async function step(ms: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await clock.advance(ms);
    await h.host.scheduler.idle();
  }
}

test('create rejects a bad name, data or schedule_at with 400', async () => {
  await workspace('fw-valid');
  const at = iso(clock.now() + 10 * MIN);
  await rejects('fw-valid', 'create', { data: { a: 1 }, schedule_at: at }, 400, /name/);
  await rejects('fw-valid', 'create', { name: '', data: { a: 1 }, schedule_at: at }, 400, /name/);
  await rejects('fw-valid', 'create', { name: 42, data: { a: 1 }, schedule_at: at }, 400, /name/);
  await rejects('fw-valid', 'create', { name: 'x'.repeat(129), data: { a: 1 }, schedule_at: at }, 400, /name/);
  await rejects('fw-valid', 'create', { name: 'n', schedule_at: at }, 400, /data/);
  await rejects('fw-valid', 'create', { name: 'n', data: 'text', schedule_at: at }, 400, /data/);
  await rejects('fw-valid', 'create', { name: 'n', data: [1, 2], schedule_at: at }, 400, /data/);
  await rejects('fw-valid', 'create', { name: 'n', data: null, schedule_at: at }, 400, /data/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 } }, 400, /schedule_at/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 }, schedule_at: 'tomorrow' }, 400, /schedule_at/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 }, schedule_at: '2026-05-02' }, 400, /schedule_at/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 }, schedule_at: 1_800_000_000_000 }, 400, /schedule_at/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 }, schedule_at: at, repeat: { time_unit: 'weeks', frequency: 1 } }, 400, /time_unit/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 }, schedule_at: at, repeat: { time_unit: 'hours', frequency: 0 } }, 400, /frequency/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 }, schedule_at: at, repeat: { time_unit: 'hours', frequency: 1.5 } }, 400, /frequency/);
  await rejects('fw-valid', 'create', { name: 'n', data: { a: 1 }, schedule_at: at, repeat: { time_unit: 'minutes', frequency: 4 } }, 400, /frequency/);
  await rejects('fw-valid', 'create', undefined, 400);
  const list = await h.api('GET', '/api/v1/workspaces/fw-valid/schedules');
  assert.deepEqual(list.body.data, [], 'nothing was created');
});

test('data may be 4 KB of JSON, not a byte more (400)', async () => {
  const at = iso(clock.now() + 10 * MIN);
  // {"b":"…"} is 8 bytes plus the string.
  const justFits = { b: 'x'.repeat(4096 - 8) };
  assert.equal(Buffer.byteLength(JSON.stringify(justFits)), 4096);
  assert.deepEqual(await resolves('fw-valid', 'create', { name: 'fits', data: justFits, schedule_at: at }), { status: 200, message: 'Schedule created successfully' });
  await rejects('fw-valid', 'create', { name: 'too-big', data: { b: 'x'.repeat(4096 - 7) }, schedule_at: at }, 400, /4096 bytes|4 KB/);
  // Multi-byte characters count as bytes, not characters.
  await rejects('fw-valid', 'create', { name: 'too-big', data: { b: 'é'.repeat(2045) }, schedule_at: at }, 400, /4 KB/);
  await resolves('fw-valid', 'delete', { name: 'fits' });
});

test('schedule_at must be at least 5 minutes ahead (400)', async () => {
  const now = clock.now();
  // Within 5 s of the mark counts: an app's `Date.now() + 5 min` is a moment old when it arrives.
  await rejects('fw-valid', 'create', { name: 'soon', data: {}, schedule_at: iso(now + 5 * MIN - 5001) }, 400, /5 minutes/);
  await rejects('fw-valid', 'create', { name: 'past', data: {}, schedule_at: iso(now - HOUR) }, 400, /5 minutes/);
  await resolves('fw-valid', 'create', { name: 'soon', data: {}, schedule_at: iso(now + 5 * MIN - 5000) });
  // An update is held to the same rule.
  await rejects('fw-valid', 'update', { name: 'soon', schedule_at: iso(now + MIN) }, 400, /5 minutes/);
  await resolves('fw-valid', 'delete', { name: 'soon' });
});

test('limits: one-time schedules past maxOneTime and a 2nd recurring are 429; a taken name is 409', async () => {
  await workspace('fw-limits');
  const at = iso(clock.now() + HOUR);
  for (const name of ['a1', 'a2', 'a3']) await resolves('fw-limits', 'create', { name, data: { name }, schedule_at: at });
  await rejects('fw-limits', 'create', { name: 'a4', data: {}, schedule_at: at }, 429, /one-time/);
  await resolves('fw-limits', 'create', { name: 'r1', data: {}, schedule_at: at, repeat: { time_unit: 'hours', frequency: 1 } });
  await rejects('fw-limits', 'create', { name: 'r2', data: {}, schedule_at: at, repeat: { time_unit: 'days', frequency: 1 } }, 429, /recurring/);
  // The recurring one does not count against the one-time limit, nor the other way round.
  await rejects('fw-limits', 'create', { name: 'a1', data: {}, schedule_at: at }, 409, /a1/);
  await rejects('fw-limits', 'create', { name: 'r1', data: {}, schedule_at: at, repeat: { time_unit: 'hours', frequency: 1 } }, 409, /r1/);
  // An update cannot turn a one-time schedule into a 2nd recurring one.
  await rejects('fw-limits', 'update', { name: 'a1', repeat: { time_unit: 'hours', frequency: 2 } }, 429, /recurring/);
  // Limits are per installation: another workspace starts from zero.
  await workspace('fw-limits-2');
  await resolves('fw-limits-2', 'create', { name: 'a4', data: {}, schedule_at: at });
  // Deleting one frees its slot.
  await resolves('fw-limits', 'delete', { name: 'a2' });
  await resolves('fw-limits', 'create', { name: 'a4', data: {}, schedule_at: at });
  for (const name of ['a1', 'a3', 'a4', 'r1']) await resolves('fw-limits', 'delete', { name });
  await resolves('fw-limits-2', 'delete', { name: 'a4' });
});

test('fetch, update and delete of an unknown name are 404', async () => {
  await rejects('fw-valid', 'fetch', { name: 'nobody' }, 404, /nobody/);
  await rejects('fw-valid', 'update', { name: 'nobody', data: { a: 1 }, schedule_at: iso(clock.now() + HOUR) }, 404, /nobody/);
  await rejects('fw-valid', 'delete', { name: 'nobody' }, 404, /nobody/);
  // A schedule of another installation is unknown here.
  await workspace('fw-other');
  await resolves('fw-other', 'create', { name: 'theirs', data: {}, schedule_at: iso(clock.now() + HOUR) });
  await rejects('fw-valid', 'fetch', { name: 'theirs' }, 404);
  await rejects('fw-valid', 'delete', { name: 'theirs' }, 404);
  await resolves('fw-other', 'delete', { name: 'theirs' });
});

test('fetch returns what was created', async () => {
  await workspace('fw-fetch');
  const at = '2026-06-10T07:00:00.860Z';
  await resolves('fw-fetch', 'create', { name: 'task_reminder', data: { task_id: 100001 }, schedule_at: at });
  assert.deepEqual(await resolves('fw-fetch', 'fetch', { name: 'task_reminder' }), { name: 'task_reminder', data: { task_id: 100001 }, schedule_at: at });
  await resolves('fw-fetch', 'create', { name: 'every5', data: { task_id: 10001, tags: ['a', 'b'] }, schedule_at: at, repeat: { time_unit: 'minutes', frequency: 5 } });
  assert.deepEqual(await resolves('fw-fetch', 'fetch', { name: 'every5' }), {
    name: 'every5', data: { task_id: 10001, tags: ['a', 'b'] }, schedule_at: at, repeat: { time_unit: 'minutes', frequency: 5 },
  });
  const listed = await scheduleOf('fw-fetch', 'every5');
  assert.equal(listed.kind, 'plugin');
  assert.equal(listed.nextRunAt, at);
  assert.equal(listed.retries, 0, 'plugin schedules default to no retries');
  await resolves('fw-fetch', 'delete', { name: 'task_reminder' });
  await resolves('fw-fetch', 'delete', { name: 'every5' });
});

test('a schedule_at without an offset is UTC (the default time zone), whatever the host process zone', async () => {
  await workspace('fw-utc');
  const saved = process.env.TZ;
  process.env.TZ = 'Asia/Kolkata'; // the host runs in this process
  try {
    await resolves('fw-utc', 'create', { name: 'naive', data: {}, schedule_at: '2026-06-10T07:00:00' });
    assert.deepEqual(await resolves('fw-utc', 'fetch', { name: 'naive' }), { name: 'naive', data: {}, schedule_at: '2026-06-10T07:00:00.000Z' });
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
    await sched('fw-utc', 'delete', { name: 'naive' });
  }
});

test('update changes data and time: it fires once, at the new time, with the new data', async () => {
  await workspace('fw-update');
  const now = clock.now();
  assert.deepEqual(await resolves('fw-update', 'create', { name: 'remind', data: { v: 1 }, schedule_at: iso(now + 10 * MIN) }), { status: 200, message: 'Schedule created successfully' });
  assert.deepEqual(await resolves('fw-update', 'update', { name: 'remind', data: { v: 2 }, schedule_at: iso(now + 20 * MIN) }), { status: 200, message: 'Schedule updated successfully' });
  assert.deepEqual(await resolves('fw-update', 'fetch', { name: 'remind' }), { name: 'remind', data: { v: 2 }, schedule_at: iso(now + 20 * MIN) });
  await step(MIN, 19);
  assert.equal((await eventRuns('fw-update')).length, 0, 'nothing at the old time');
  await step(MIN, 11);
  const runs = await eventRuns('fw-update');
  assert.equal(runs.length, 1);
  assert.equal(runs[0].status, 'succeeded');
  assert.equal(runs[0].startedAt, now + 20 * MIN);
  const payload = await payloadOf('fw-update', runs[0].id);
  assert.deepEqual(payload.data, { v: 2 });
  assert.equal(payload.timestamp, now + 20 * MIN);
});

test('delete removes a schedule: fetch is 404, it is not listed and it never fires', async () => {
  await workspace('fw-delete');
  await resolves('fw-delete', 'create', { name: 'gone', data: { x: 1 }, schedule_at: iso(clock.now() + 6 * MIN) });
  assert.ok(await scheduleOf('fw-delete', 'gone'));
  assert.deepEqual(await resolves('fw-delete', 'delete', { name: 'gone' }), { status: 200, message: 'Schedule deleted successfully' });
  await rejects('fw-delete', 'fetch', { name: 'gone' }, 404);
  assert.equal(await scheduleOf('fw-delete', 'gone'), undefined);
  await step(MIN, 10);
  assert.deepEqual(await eventRuns('fw-delete'), []);
});

test('a 5-minute recurring schedule fires exactly 12 times in a virtual hour', async () => {
  await workspace('fw-every5');
  const start = clock.now();
  await resolves('fw-every5', 'create', { name: 'poll', data: { what: 'poll' }, schedule_at: iso(start + 5 * MIN), repeat: { time_unit: 'minutes', frequency: 5 } });
  const id = (await scheduleOf('fw-every5', 'poll')).id;
  await step(MIN, 60);
  const runs = await eventRuns('fw-every5', id);
  assert.equal(runs.length, 12);
  assert.deepEqual(runs.map((r) => r.startedAt), Array.from({ length: 12 }, (_, i) => start + (i + 1) * 5 * MIN));
  assert.ok(runs.every((r) => r.status === 'succeeded' && r.trigger === 'schedule' && r.kind === 'event'));
  assert.equal(new Set(runs.map((r) => r.idempotencyKey)).size, 12, 'each firing has its own idempotency key');
  assert.equal((await scheduleOf('fw-every5', 'poll')).nextRunAt, iso(start + 65 * MIN));
  await resolves('fw-every5', 'delete', { name: 'poll' });
});

test('repeat {time_unit: days} keeps the time of day of schedule_at', async () => {
  await workspace('fw-daily');
  const base = Math.ceil((clock.now() + 1) / HOUR) * HOUR;
  await clock.set(base);
  await h.host.scheduler.idle();
  const first = base + 7 * HOUR + 45 * MIN;
  await resolves('fw-daily', 'create', { name: 'daily', data: { d: 1 }, schedule_at: iso(first), repeat: { time_unit: 'days', frequency: 1 } });
  const id = (await scheduleOf('fw-daily', 'daily')).id;
  await step(15 * MIN, 3 * 24 * 4); // three virtual days
  const runs = await eventRuns('fw-daily', id);
  const times = [];
  for (const r of runs) times.push((await payloadOf('fw-daily', r.id)).timestamp);
  assert.deepEqual(times.map(iso), [iso(first), iso(first + 24 * HOUR), iso(first + 48 * HOUR)]);
  const timeOfDay = iso(first).slice(11);
  assert.ok(times.every((t) => iso(t).slice(11) === timeOfDay), `all at ${timeOfDay}`);
  assert.ok(runs.every((r) => r.trigger === 'schedule' && r.status === 'succeeded'));
  await resolves('fw-daily', 'delete', { name: 'daily' });
});

test('the handler gets the Freshworks payload: account_id, event, region, timestamp, domain, data, iparams, idempotencyKey', async () => {
  await workspace('fw-payload');
  const due = clock.now() + 5 * MIN;
  const data = { account_name: 'John', account_id: 3, country: 'France', nested: { list: [1, 'two', { three: null }], flag: false } };
  await resolves('fw-payload', 'create', { name: 'payload', data, schedule_at: iso(due) });
  const id = (await scheduleOf('fw-payload', 'payload')).id;
  const finished = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === id);
  await clock.advance(5 * MIN);
  const [info] = await finished;
  assert.equal(info.status, 'succeeded');
  assert.ok(info.runId);
  const run = (await h.api('GET', `/api/v1/workspaces/fw-payload/runs/${info.runId}`)).body;
  assert.equal(run.kind, 'event');
  assert.equal(run.trigger, 'schedule');
  assert.equal(run.scheduleId, id);
  const payload = await payloadOf('fw-payload', info.runId);
  assert.equal(payload.account_id, 'fw-payload');
  assert.equal(payload.event, 'onScheduledEvent');
  assert.ok(['US', 'EU', 'EUC', 'AUS', 'IND'].includes(payload.region), payload.region);
  assert.equal(payload.timestamp, due);
  assert.equal(typeof payload.domain, 'string');
  assert.ok(payload.domain.length > 0);
  assert.deepEqual(payload.data, data);
  assert.deepEqual(payload.iparams, { greeting: 'hello fw-payload' });
  assert.equal(typeof payload.idempotencyKey, 'string');
  assert.equal(payload.idempotencyKey, info.idempotencyKey);
  assert.equal(payload.idempotencyKey, run.idempotencyKey);
  // A one-time schedule is done after it fires: nothing is next, and it does not fire again.
  await h.host.scheduler.idle();
  assert.equal((await scheduleOf('fw-payload', 'payload')).nextRunAt, null);
  await step(HOUR, 2);
  assert.equal((await eventRuns('fw-payload', id)).length, 1);
});

test('a handler that throws gets a failed run and is not retried', async () => {
  await workspace('fw-throws');
  await resolves('fw-throws', 'create', { name: 'bad', data: { fail: 'on purpose' }, schedule_at: iso(clock.now() + 5 * MIN) });
  const id = (await scheduleOf('fw-throws', 'bad')).id;
  const finished = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === id);
  await clock.advance(5 * MIN);
  const [info] = await finished;
  assert.equal(info.status, 'failed');
  const run = (await h.api('GET', `/api/v1/workspaces/fw-throws/runs/${info.runId}`)).body;
  assert.equal(run.status, 'failed');
  assert.equal(run.error.code, 'PLUGIN_ERROR');
  assert.match(run.error.message, /handler failed: on purpose/);
  // The backoff is 30 s; two virtual hours later there is still one run.
  await step(MIN, 10);
  await step(HOUR, 2);
  const runs = await eventRuns('fw-throws', id);
  assert.equal(runs.length, 1);
  const detail = await h.api('GET', `/api/v1/workspaces/fw-throws/schedules/${id}`);
  assert.equal(detail.status, 200);
  assert.equal(detail.body.occurrences.length, 1);
  assert.equal(detail.body.occurrences[0].status, 'failed');
  assert.equal(detail.body.occurrences[0].attempt, 1);
});

test('a plugin without events.onScheduledEvent gets a failed run with PLUGIN_NO_HANDLER', async () => {
  await workspace('fw-nohandler', 'fw-no-handler');
  const created = await sched('fw-nohandler', 'create', { name: 'orphan', data: { a: 1 }, schedule_at: iso(clock.now() + 5 * MIN) }, 'fwx');
  assert.ok(created.ok, JSON.stringify(created));
  const id = (await scheduleOf('fw-nohandler', 'orphan')).id;
  const finished = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === id);
  await clock.advance(5 * MIN);
  const [info] = await finished;
  assert.equal(info.status, 'failed');
  assert.ok(info.runId, 'the failure is a run in the history');
  const run = (await h.api('GET', `/api/v1/workspaces/fw-nohandler/runs/${info.runId}`)).body;
  assert.equal(run.kind, 'event');
  assert.equal(run.status, 'failed');
  assert.equal(run.error.code, 'PLUGIN_NO_HANDLER');
  assert.match(run.error.message, /onScheduledEvent/);
});
