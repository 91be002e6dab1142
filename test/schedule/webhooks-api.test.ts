// Scheduled webhooks over the admin REST API: validation (400 INVALID_BODY with details, a
// url of another workspace's route), list/get/patch/delete (404 SCHEDULE_NOT_FOUND after
// delete, 403 for another workspace's token), pausing with isActive (no firing, no catch-up
// on resume), run now (trigger `manual`), preview, the call as an absolute-URL receiver sees
// it (body, X-Zengine-Webhook-Key, a verifiable X-Plughost-Signature, the idempotency key),
// retries with exponential backoff on 500 and none with `x-plughost-no-retry: true`, and a
// plugin route with `access: signed` accepting the scheduler's call but not an unsigned POST.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type RecordedRequest, type StubServer } from '../helpers/stub-server.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/counter');
const read = (f: string) => fs.readFileSync(path.join(fixture, f), 'utf8');
const at = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;
const clock = createVirtualClock(at('2026-04-01T06:00:00Z'));
const BASE = '/api/v1/workspaces/api/scheduled-webhooks';
let h: TestHost;
let stub: StubServer;
let otherToken: string;

before(async () => {
  stub = await startStub((req, res) => {
    const p = new URL(req.url, 'http://stub').pathname;
    if (p === '/fail') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('down');
    } else if (p === '/noretry') {
      res.writeHead(500, { 'content-type': 'text/plain', 'x-plughost-no-retry': 'true' });
      res.end('gone for good');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }
  });
  h = await startHost({ clock, egressAllow: ['127.0.0.1'] });
  assert.equal((await h.publish({ 'plugin.json': read('plugin.json'), 'plugin.js': read('plugin.js') })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'api', name: 'API', timezone: 'America/Chicago' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'other', name: 'Other' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/api/installations', { plugin: 'counter' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/other/installations', { plugin: 'counter' })).status, 201);
  const token = await h.api('POST', '/api/v1/workspaces/other/tokens', {});
  assert.equal(token.status, 201);
  otherToken = token.body.token;
});
after(async () => {
  await h.close();
  await stub.close();
});

async function create(body: Record<string, unknown>): Promise<any> {
  const res = await h.api('POST', BASE, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function step(ms: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await clock.advance(ms);
    await h.host.scheduler.idle();
  }
}

async function runsOf(id: string): Promise<any[]> {
  const res = await h.api('GET', `/api/v1/workspaces/api/runs?kind=webhook&schedule=${id}&limit=200`);
  assert.equal(res.status, 200);
  return [...res.body.data].sort((a, b) => a.startedAt - b.startedAt || a.attempt - b.attempt);
}

/** What the counter plugin logged for a run. */
async function calledOf(runId: string): Promise<any> {
  const run = (await h.api('GET', `/api/v1/workspaces/api/runs/${runId}`)).body;
  const line = (run.log as string).split('\n').find((l) => l.includes('CALLED '));
  assert.ok(line, run.log);
  return JSON.parse(line.slice(line.indexOf('CALLED ') + 7));
}

const requestsTo = (p: string): RecordedRequest[] => stub.requests.filter((r) => new URL(r.url, 'http://stub').pathname === p);

function assertInvalid(res: { status: number; body: any }, field: string, why?: RegExp) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'INVALID_BODY');
  assert.ok(Array.isArray(res.body.error.details), 'details list the problems');
  const detail = res.body.error.details.find((d: { path: string }) => d.path === field);
  assert.ok(detail, `a detail for ${field}: ${JSON.stringify(res.body.error.details)}`);
  if (why) assert.match(detail.message, why);
}

test('create validates the body: 400 INVALID_BODY with details', async () => {
  const ok = { url: '/workspaces/api/cnt/hit', frequency: 'daily' };
  assertInvalid(await h.api('POST', BASE, { frequency: 'daily' }), 'url');
  assertInvalid(await h.api('POST', BASE, { ...ok, url: 'ftp://example.com/x' }), 'url');
  assertInvalid(await h.api('POST', BASE, { ...ok, url: 'not a url' }), 'url');
  assertInvalid(await h.api('POST', BASE, { ...ok, frequency: 'yearly' }), 'frequency');
  assertInvalid(await h.api('POST', BASE, { url: ok.url }), 'frequency', /frequency|cron/);
  assertInvalid(await h.api('POST', BASE, { url: ok.url, cron: 'every tuesday' }), 'cron', /cron/);
  assertInvalid(await h.api('POST', BASE, { url: ok.url, cron: '61 * * * *' }), 'cron');
  assertInvalid(await h.api('POST', BASE, { ...ok, timezone: 'Mars/Olympus_Mons' }), 'timezone', /IANA/);
  assertInvalid(await h.api('POST', BASE, { ...ok, start: '2026-13-01 10:00' }), 'start');
  assertInvalid(await h.api('POST', BASE, { ...ok, start: 'next monday' }), 'start');
  assertInvalid(await h.api('POST', BASE, { ...ok, start: '2026-04-01T10:00:00Z' }), 'start', /no zone|local/);
  assertInvalid(await h.api('POST', BASE, { ...ok, misfire: 'later' }), 'misfire');
  assertInvalid(await h.api('POST', BASE, { ...ok, overlap: 'maybe' }), 'overlap');
  assertInvalid(await h.api('POST', BASE, { ...ok, retries: 11 }), 'retries');
  assertInvalid(await h.api('POST', BASE, { ...ok, isActive: 'yes' }), 'isActive');
  const unknown = await h.api('POST', BASE, { ...ok, color: 'blue' });
  assertInvalid(unknown, '(root)');
  assert.match(JSON.stringify(unknown.body.error.details), /color/);
  // Several problems at once are all listed.
  const many = await h.api('POST', BASE, { url: 42, frequency: 'yearly', timezone: 'Nowhere' });
  assert.equal(many.status, 400);
  assert.deepEqual(many.body.error.details.map((d: { path: string }) => d.path).sort(), ['frequency', 'timezone', 'url']);
  // A url of another workspace's route.
  const foreign = await h.api('POST', BASE, { ...ok, url: '/workspaces/other/cnt/hit' });
  assert.equal(foreign.status, 400);
  assert.equal(foreign.body.error.code, 'INVALID_BODY');
  assert.match(foreign.body.error.message, /this workspace/);
  assert.deepEqual((await h.api('GET', BASE)).body.data, [], 'nothing was created');
});

test('a cron with a seconds field is refused or fires; it is never stored as a webhook that never runs', async () => {
  const res = await h.api('POST', BASE, { url: '/workspaces/api/cnt/hit?from=seconds', cron: '*/5 * * * * *', timezone: 'UTC', isActive: false });
  if (res.status === 400) {
    assertInvalid(res, 'cron');
    return;
  }
  assert.equal(res.status, 201, JSON.stringify(res.body));
  try {
    const preview = await h.api('GET', `${BASE}/${res.body.id}/preview?count=2`);
    assert.equal(preview.status, 200);
    assert.equal(preview.body.data.length, 2, `accepted, but it has no fire times: ${JSON.stringify(preview.body)}`);
    assert.equal(Date.parse(preview.body.data[1].at) - Date.parse(preview.body.data[0].at), 5000);
  } finally {
    await h.api('DELETE', `${BASE}/${res.body.id}`);
  }
});

test('list, get, patch and delete; another workspace\'s token gets 403', async () => {
  const now = clock.now();
  const created = await create({ url: '/workspaces/api/cnt/hit?from=crud', frequency: 'daily' });
  const { id, secretKey, createdAt, updatedAt, ...rest } = created;
  assert.match(id, /^whk/);
  assert.match(secretKey, /^[0-9a-f]{48}$/);
  assert.equal(createdAt, iso(now));
  assert.equal(updatedAt, iso(now));
  // Without `start` the first run is now; the zone defaults to the workspace's.
  assert.deepEqual(rest, {
    workspaceId: 'api', url: '/workspaces/api/cnt/hit?from=crud', frequency: 'daily', cron: null, start: null, timezone: 'America/Chicago',
    description: '', isActive: true, misfire: 'coalesce', overlap: 'skip', retries: 3, misfireGraceSeconds: 60, nextRunAt: iso(now), nextRunAtLocal: '2026-04-01 01:00:00',
  });
  await h.host.scheduler.idle();
  const fired = await runsOf(id);
  assert.equal(fired.length, 1, 'it ran at once');
  assert.equal((await calledOf(fired[0].id)).scheduled, '2026-04-01 01:00:00');

  const list = await h.api('GET', BASE);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.data.map((w: { id: string }) => w.id), [id]);
  assert.equal(list.body.data[0].nextRunAt, iso(now + 24 * HOUR), 'then daily at that time');

  const one = await h.api('GET', `${BASE}/${id}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.secretKey, secretKey);
  assert.equal(one.body.occurrences.length, 1);
  assert.equal(one.body.occurrences[0].status, 'succeeded');

  const patched = await h.api('PATCH', `${BASE}/${id}`, { description: 'weekly now', frequency: 'weekly', retries: 5, misfire: 'skip', overlap: 'queue' });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.description, 'weekly now');
  assert.equal(patched.body.frequency, 'weekly');
  assert.equal(patched.body.retries, 5);
  assert.equal(patched.body.misfire, 'skip');
  assert.equal(patched.body.overlap, 'queue');
  assert.equal(patched.body.secretKey, secretKey, 'the key stays');
  assert.equal(patched.body.nextRunAt, iso(now + 7 * 24 * HOUR));
  const cron = await h.api('PATCH', `${BASE}/${id}`, { frequency: null, cron: '30 12 * * *' });
  assert.equal(cron.status, 200, JSON.stringify(cron.body));
  assert.equal(cron.body.cron, '30 12 * * *');
  assert.equal(cron.body.frequency, null);
  assert.equal(cron.body.nextRunAtLocal, '2026-04-01 12:30:00');
  assertInvalid(await h.api('PATCH', `${BASE}/${id}`, { colour: 'red' }), '(root)');
  const neither = await h.api('PATCH', `${BASE}/${id}`, { cron: null });
  assert.equal(neither.status, 400);
  assert.equal(neither.body.error.code, 'INVALID_BODY');
  assert.equal((await h.api('PATCH', `${BASE}/${id}`, { url: '/workspaces/other/cnt/hit' })).status, 400);

  for (const [method, p] of [['GET', BASE], ['GET', `${BASE}/${id}`], ['PATCH', `${BASE}/${id}`], ['DELETE', `${BASE}/${id}`], ['POST', `${BASE}/${id}/run`], ['GET', `${BASE}/${id}/preview`]] as const) {
    const res = await h.api(method, p, method === 'PATCH' ? { description: 'x' } : undefined, otherToken);
    assert.equal(res.status, 403, `${method} ${p}`);
    assert.equal(res.body.error.code, 'FORBIDDEN');
  }
  // Through another workspace's path it does not exist.
  const cross = await h.api('GET', `/api/v1/workspaces/other/scheduled-webhooks/${id}`);
  assert.equal(cross.status, 404);
  assert.equal(cross.body.error.code, 'SCHEDULE_NOT_FOUND');
  assert.equal((await h.api('GET', `/api/v1/workspaces/other/scheduled-webhooks/${id}`, undefined, otherToken)).status, 404);

  const deleted = await h.api('DELETE', `${BASE}/${id}`);
  assert.equal(deleted.status, 204);
  for (const [method, p] of [['GET', `${BASE}/${id}`], ['PATCH', `${BASE}/${id}`], ['DELETE', `${BASE}/${id}`], ['POST', `${BASE}/${id}/run`], ['GET', `${BASE}/${id}/preview`]] as const) {
    const res = await h.api(method, p, method === 'PATCH' ? { description: 'x' } : undefined);
    assert.equal(res.status, 404, `${method} ${p}`);
    assert.equal(res.body.error.code, 'SCHEDULE_NOT_FOUND');
  }
  assert.deepEqual((await h.api('GET', BASE)).body.data, []);
  // A deleted webhook never fires again.
  await clock.set(now + 2 * 24 * HOUR);
  await h.host.scheduler.idle();
  assert.equal((await runsOf(id)).length, 1);
});

test('isActive: false pauses a webhook; resuming does not catch up the pause', async () => {
  await clock.set(at('2026-04-04T00:00:00Z'));
  await h.host.scheduler.idle();
  const w = await create({ url: '/workspaces/api/cnt/hit?from=pause', frequency: 'hourly', start: '2026-04-04 01:00:00', timezone: 'UTC' });
  const never = await create({ url: '/workspaces/api/cnt/hit?from=never', frequency: 'hourly', timezone: 'UTC', isActive: false });
  assert.equal(never.isActive, false);
  assert.equal(never.nextRunAt, null);
  await step(HOUR, 1);
  assert.equal((await runsOf(w.id)).length, 1);

  const paused = await h.api('PATCH', `${BASE}/${w.id}`, { isActive: false });
  assert.equal(paused.status, 200);
  assert.equal(paused.body.isActive, false);
  assert.equal(paused.body.nextRunAt, null);
  await step(HOUR, 3); // 02:00, 03:00 and 04:00 pass while paused
  assert.equal((await runsOf(w.id)).length, 1, 'nothing while paused');
  await step(HOUR / 2, 1);

  const resumed = await h.api('PATCH', `${BASE}/${w.id}`, { isActive: true });
  assert.equal(resumed.status, 200);
  assert.equal(resumed.body.isActive, true);
  assert.equal(resumed.body.nextRunAt, '2026-04-04T05:00:00.000Z');
  await h.host.scheduler.idle();
  assert.equal((await runsOf(w.id)).length, 1, 'no catch-up for the pause');
  await step(HOUR / 2, 1);
  const runs = await runsOf(w.id);
  assert.equal(runs.length, 2);
  assert.equal(runs[1].trigger, 'schedule');
  assert.equal((await calledOf(runs[1].id)).scheduled, '2026-04-04 05:00:00');
  const occ = (await h.api('GET', `${BASE}/${w.id}`)).body.occurrences;
  assert.deepEqual(occ.map((o: { dueAt: number }) => iso(o.dueAt)).sort(), ['2026-04-04T01:00:00.000Z', '2026-04-04T05:00:00.000Z']);
  assert.deepEqual(await runsOf(never.id), [], 'created inactive: never fired');
  for (const id of [w.id, never.id]) assert.equal((await h.api('DELETE', `${BASE}/${id}`)).status, 204);
});

test('POST …/:id/run runs it now with trigger manual and returns the run', async () => {
  const w = await create({ url: '/workspaces/api/cnt/hit?from=manual', frequency: 'daily', start: '2026-04-10 09:00:00', timezone: 'Europe/Rome' });
  const res = await h.api('POST', `${BASE}/${w.id}/run`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, 'succeeded');
  assert.equal(typeof res.body.occurrenceId, 'string');
  assert.equal(res.body.run.trigger, 'manual');
  assert.equal(res.body.run.kind, 'webhook');
  assert.equal(res.body.run.status, 'succeeded');
  assert.equal(res.body.run.httpStatus, 200);
  assert.equal(res.body.run.scheduleId, w.id);
  assert.equal(res.body.run.idempotencyKey, res.body.idempotencyKey);
  const called = await calledOf(res.body.run.id);
  assert.equal(called.method, 'POST');
  assert.equal(called.id, w.id);
  assert.equal(called.key, res.body.idempotencyKey);
  // Scheduled is now, in the zone; next is the schedule's next run, which run now leaves alone.
  assert.equal(called.scheduled, '2026-04-04 07:00:00');
  assert.equal(called.nextScheduled, '2026-04-10 09:00:00');
  const after = (await h.api('GET', `${BASE}/${w.id}`)).body;
  assert.equal(after.nextRunAtLocal, '2026-04-10 09:00:00');
  assert.equal(after.occurrences.length, 1);
  assert.equal(after.occurrences[0].trigger, 'manual');
  // Each run now is its own occurrence.
  const again = await h.api('POST', `${BASE}/${w.id}/run`);
  assert.notEqual(again.body.idempotencyKey, res.body.idempotencyKey);
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});

test('preview?count=N lists the next fire times; a bad count is 400', async () => {
  const w = await create({ url: '/workspaces/api/cnt/hit?from=preview', frequency: 'monthly', start: '2026-05-31 08:00:00', timezone: 'Europe/Rome' });
  const res = await h.api('GET', `${BASE}/${w.id}/preview?count=4`);
  assert.equal(res.status, 200);
  assert.equal(res.body.timezone, 'Europe/Rome');
  assert.deepEqual(res.body.data, [
    { at: '2026-05-31T06:00:00.000Z', local: '2026-05-31 08:00:00' },
    { at: '2026-06-30T06:00:00.000Z', local: '2026-06-30 08:00:00' },
    { at: '2026-07-31T06:00:00.000Z', local: '2026-07-31 08:00:00' },
    { at: '2026-08-31T06:00:00.000Z', local: '2026-08-31 08:00:00' },
  ]);
  assert.equal((await h.api('GET', `${BASE}/${w.id}/preview`)).body.data.length, 10, 'ten by default');
  assert.equal((await h.api('GET', `${BASE}/${w.id}/preview?count=100`)).body.data.length, 100);
  for (const bad of ['0', '-1', '101', 'abc', '2.5']) {
    const r = await h.api('GET', `${BASE}/${w.id}/preview?count=${bad}`);
    assert.equal(r.status, 400, `count=${bad}`);
    assert.equal(r.body.error.code, 'INVALID_QUERY');
  }
  const cron = await create({ url: '/workspaces/api/cnt/hit?from=preview-cron', cron: '0 9 * * 1', timezone: 'America/New_York', start: '2026-04-06 00:00:00' });
  const weekly = await h.api('GET', `${BASE}/${cron.id}/preview?count=2`);
  assert.deepEqual(weekly.body.data, [{ at: '2026-04-06T13:00:00.000Z', local: '2026-04-06 09:00:00' }, { at: '2026-04-13T13:00:00.000Z', local: '2026-04-13 09:00:00' }]);
  for (const id of [w.id, cron.id]) assert.equal((await h.api('DELETE', `${BASE}/${id}`)).status, 204);
});

test('an absolute-URL receiver gets the body, the key, a verifiable signature and the idempotency key', async () => {
  await clock.set(at('2026-04-05T07:59:00Z'));
  await h.host.scheduler.idle();
  const w = await create({ url: `${stub.url}/receive?team=7`, frequency: 'daily', start: '2026-04-05 10:00:00', timezone: 'Europe/Rome' });
  assert.equal(w.nextRunAt, '2026-04-05T08:00:00.000Z');
  const arrived = stub.waitForRequests(stub.requests.length + 1);
  const finished = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === w.id);
  await clock.set(at('2026-04-05T08:00:00Z'));
  const [info] = await finished;
  assert.equal(info.status, 'succeeded');
  const req = (await arrived).at(-1)!;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/receive?team=7');
  assert.deepEqual(JSON.parse(req.body), { data: { scheduled: '2026-04-05 10:00:00', nextScheduled: '2026-04-06 10:00:00' }, scheduled: { id: w.id } });
  assert.match(String(req.headers['content-type']), /^application\/json/);
  assert.equal(req.headers['x-zengine-webhook-key'], w.secretKey);
  assert.equal(req.headers['x-plughost-idempotency-key'], info.idempotencyKey);
  assert.equal(info.idempotencyKey, `${w.id}@${at('2026-04-05T08:00:00Z')}`);

  const signature = String(req.headers['x-plughost-signature']);
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature);
  assert.ok(m, signature);
  assert.equal(Number(m[1]), at('2026-04-05T08:00:00Z') / 1000, 't is the (virtual) unix time of the call');
  assert.equal(m[2], createHmac('sha256', w.secretKey).update(`${m[1]}.${req.body}`).digest('hex'));
  assert.notEqual(m[2], createHmac('sha256', 'another key').update(`${m[1]}.${req.body}`).digest('hex'));

  const run = (await h.api('GET', `/api/v1/workspaces/api/runs/${info.runId}`)).body;
  assert.equal(run.kind, 'webhook');
  assert.equal(run.trigger, 'schedule');
  assert.equal(run.status, 'succeeded');
  assert.equal(run.httpStatus, 200);
  assert.equal(run.idempotencyKey, info.idempotencyKey);
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});

test('a 500 is retried with exponential backoff: 4 attempts, trigger retry, one idempotency key', async () => {
  await clock.set(at('2026-04-06T08:59:00Z'));
  await h.host.scheduler.idle();
  const w = await create({ url: `${stub.url}/fail`, frequency: 'daily', start: '2026-04-06 09:00:00', timezone: 'UTC' });
  const once = await create({ url: `${stub.url}/fail?retries=1`, frequency: 'daily', start: '2026-04-06 09:00:00', timezone: 'UTC', retries: 1 });
  const before = requestsTo('/fail').length;
  await clock.set(at('2026-04-06T09:00:00Z'));
  await h.host.scheduler.idle();
  await step(10_000, 60); // ten virtual minutes in fine steps: each retry runs when it is due

  const runs = await runsOf(w.id);
  assert.deepEqual(runs.map((r) => r.attempt), [1, 2, 3, 4]);
  assert.deepEqual(runs.map((r) => r.trigger), ['schedule', 'retry', 'retry', 'retry']);
  assert.ok(runs.every((r) => r.status === 'failed' && r.httpStatus === 500 && r.error.code === 'WEBHOOK_FAILED'));
  assert.equal(new Set(runs.map((r) => r.idempotencyKey)).size, 1);
  const backoff = h.host.options.schedules.backoffMs;
  const starts = runs.map((r) => r.startedAt);
  assert.equal(starts[0], at('2026-04-06T09:00:00Z'));
  assert.deepEqual(starts.slice(1).map((t, i) => t - starts[i]!), [backoff, 2 * backoff, 4 * backoff]);

  const received = requestsTo('/fail').slice(before);
  const mine = received.filter((r) => r.url === '/fail');
  assert.equal(mine.length, 4);
  assert.equal(new Set(mine.map((r) => r.headers['x-plughost-idempotency-key'])).size, 1, 'the receiver sees one key for all attempts');
  assert.equal(mine[0]!.headers['x-plughost-idempotency-key'], runs[0].idempotencyKey);
  // The body names the same scheduled time on every attempt.
  assert.ok(mine.every((r) => JSON.parse(r.body).data.scheduled === '2026-04-06 09:00:00'));

  const occ = (await h.api('GET', `${BASE}/${w.id}`)).body.occurrences;
  assert.equal(occ.length, 1);
  assert.equal(occ[0].status, 'failed');
  assert.equal(occ[0].attempt, 4);
  // `retries: 1` gives two attempts.
  assert.deepEqual((await runsOf(once.id)).map((r) => r.trigger), ['schedule', 'retry']);
  for (const id of [w.id, once.id]) assert.equal((await h.api('DELETE', `${BASE}/${id}`)).status, 204);
});

test('a 500 with x-plughost-no-retry: true is not retried', async () => {
  await clock.set(at('2026-04-07T08:59:00Z'));
  await h.host.scheduler.idle();
  const w = await create({ url: `${stub.url}/noretry`, frequency: 'daily', start: '2026-04-07 09:00:00', timezone: 'UTC' });
  await clock.set(at('2026-04-07T09:00:00Z'));
  await h.host.scheduler.idle();
  await step(60_000, 10);
  const runs = await runsOf(w.id);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].status, 'failed');
  assert.equal(runs[0].httpStatus, 500);
  const occ = (await h.api('GET', `${BASE}/${w.id}`)).body.occurrences;
  assert.equal(occ[0].status, 'failed');
  assert.equal(occ[0].attempt, 1);
  assert.equal(requestsTo('/noretry').length, 1);
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});

test('pausing a webhook also stops the retries it has pending', async () => {
  await clock.set(at('2026-04-08T08:59:00Z'));
  await h.host.scheduler.idle();
  const w = await create({ url: `${stub.url}/fail?from=pause`, frequency: 'daily', start: '2026-04-08 09:00:00', timezone: 'UTC' });
  const mine = () => stub.requests.filter((r) => r.url === '/fail?from=pause');
  await clock.set(at('2026-04-08T09:00:00Z'));
  await h.host.scheduler.idle();
  assert.equal(mine().length, 1);
  const occ = (await h.api('GET', `${BASE}/${w.id}`)).body.occurrences;
  assert.equal(occ[0].status, 'pending', 'a retry is pending');
  assert.equal(occ[0].availableAt, at('2026-04-08T09:00:30Z'));

  const paused = await h.api('PATCH', `${BASE}/${w.id}`, { isActive: false });
  assert.equal(paused.status, 200);
  await step(10_000, 60);
  assert.equal(mine().length, 1, 'no call while paused, retries included');
  assert.equal((await runsOf(w.id)).length, 1);
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});

test('a signed plugin route accepts the scheduler\'s call and refuses an unsigned POST with 401', async () => {
  const w = await create({ url: '/workspaces/api/cnt/signed?from=scheduler', frequency: 'daily', start: '2026-05-01 00:00:00', timezone: 'UTC' });
  const run = await h.api('POST', `${BASE}/${w.id}/run`);
  assert.equal(run.status, 200);
  assert.equal(run.body.status, 'succeeded', JSON.stringify(run.body.run?.error));
  assert.equal(run.body.run.httpStatus, 200);
  assert.equal((await calledOf(run.body.run.id)).id, w.id);

  const url = `${h.url}/workspaces/api/cnt/signed`;
  const body = JSON.stringify({ data: { scheduled: 'x', nextScheduled: 'y' }, scheduled: { id: w.id } });
  const post = (headers: Record<string, string>) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const unsigned = await post({});
  assert.equal(unsigned.status, 401);
  assert.equal(((await unsigned.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
  // The key alone is not a signature.
  assert.equal((await post({ 'x-zengine-webhook-key': w.secretKey })).status, 401);
  const t = Math.floor(clock.now() / 1000);
  const sign = (key: string, ts: number, text = body) => `t=${ts},v1=${createHmac('sha256', key).update(`${ts}.${text}`).digest('hex')}`;
  assert.equal((await post({ 'x-plughost-signature': sign('wrong key', t) })).status, 401);
  assert.equal((await post({ 'x-plughost-signature': sign(w.secretKey, t, body + ' ') })).status, 401, 'a signature of another body');
  assert.equal((await post({ 'x-plughost-signature': sign(w.secretKey, t - 600) })).status, 401, 'an old signature');
  const signed = await post({ 'x-plughost-signature': sign(w.secretKey, t) });
  assert.equal(signed.status, 200);
  assert.equal(await signed.text(), 'counted');
  // A signature made with a key of another workspace's webhook does not open this route.
  const theirs = await h.api('POST', '/api/v1/workspaces/other/scheduled-webhooks', { url: '/workspaces/other/cnt/hit', frequency: 'daily', start: '2026-05-01 00:00:00' });
  assert.equal(theirs.status, 201);
  assert.equal((await post({ 'x-plughost-signature': sign(theirs.body.secretKey, t) })).status, 401);
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/other/scheduled-webhooks/${theirs.body.id}`)).status, 204);
  // The public route of the same plugin needs nothing.
  assert.equal((await fetch(`${h.url}/workspaces/api/cnt/hit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200);
  assert.equal((await h.api('DELETE', `${BASE}/${w.id}`)).status, 204);
});
