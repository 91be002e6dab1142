// The manual triggers of the admin API (runtime/http/routes/triggers.ts):
// `POST …/installations/:id/events/onScheduledEvent {data, at?, name?}` runs the Freshworks
// handler once with the scheduled-firing payload (timestamp = `at`, else the host's clock) as a
// run of kind `event`, trigger `manual`, answered with its log; `POST …/installations/:id/hooks/:hook
// {at?}` runs one Haplo schedule hook with (year, month0to11, day, hour, weekday) of `at` in the
// workspace's zone. A failing handler is a 200 carrying a failed run. Errors: unknown
// installation 404, inactive installation 404, no handler PLUGIN_NO_HANDLER, an unknown hook
// name or a bad body 400 INVALID_BODY, data over 4 KB 400, tokens as for every workspace route.
// The dev-only clock endpoint is not part of the production API (404).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const fixture = path.join(import.meta.dirname, 'fixtures/sample');
const files = Object.fromEntries(fs.readdirSync(fixture).map((f) => [f, fs.readFileSync(path.join(fixture, f), 'utf8')]));
const START = Date.parse('2026-06-01T09:30:00.000Z');
const clock = createVirtualClock(START);
let h: TestHost;
let inst: string; // dev-sample in `rome` (Europe/Rome)
let noHandler: string; // a routes-only plugin in `rome`
let wsToken: string; // a token of `rome`
let otherToken: string; // a token of `other`

const eventPath = (id: string, ws = 'rome') => `/api/v1/workspaces/${ws}/installations/${id}/events/onScheduledEvent`;
const hookPath = (id: string, hook: string, ws = 'rome') => `/api/v1/workspaces/${ws}/installations/${id}/hooks/${hook}`;

function logged(log: string, marker: string): any {
  const line = log.split('\n').find((l) => l.includes(`${marker} `));
  assert.ok(line, `no ${marker} line in the log:\n${log}`);
  return JSON.parse(line.slice(line.indexOf(`${marker} `) + marker.length + 1));
}

before(async () => {
  h = await startHost({ clock });
  assert.equal((await h.publish(files)).status, 201);
  const bare = await h.publish({
    'plugin.json': { name: 'routes-only', version: '1.0.0', namespace: 'ro', services: [{ route: 'x', main: 'x.js', access: 'public' }], limits: { timeoutMs: 300 } },
    'x.js': 'exports.run = function (e) { e.response.json({}); };\n',
  });
  assert.equal(bare.status, 201, JSON.stringify(bare.body));
  for (const [id, timezone] of [['rome', 'Europe/Rome'], ['other', 'UTC']] as const) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id, name: id, timezone })).status, 201);
  }
  const a = await h.api('POST', '/api/v1/workspaces/rome/installations', { plugin: 'dev-sample', iparams: { greeting: 'ciao' } });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  inst = a.body.id;
  const b = await h.api('POST', '/api/v1/workspaces/rome/installations', { plugin: 'routes-only' });
  assert.equal(b.status, 201, JSON.stringify(b.body));
  noHandler = b.body.id;
  wsToken = (await h.api('POST', '/api/v1/workspaces/rome/tokens')).body.token;
  otherToken = (await h.api('POST', '/api/v1/workspaces/other/tokens')).body.token;
});
after(async () => {
  await h.close();
});

test('event: the handler runs once with the Freshworks payload, `at` as its timestamp', async () => {
  const at = '2026-06-10T07:00:00Z';
  const res = await h.api('POST', eventPath(inst), { data: { task_id: 100001, note: 'café' }, at, name: 'task_reminder' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { run } = res.body;
  assert.equal(run.kind, 'event');
  assert.equal(run.trigger, 'manual');
  assert.equal(run.status, 'succeeded');
  assert.equal(run.target, 'onScheduledEvent task_reminder');
  assert.equal(run.installationId, inst);
  assert.equal(run.workspaceId, 'rome');
  assert.equal(run.scheduleId, null);
  assert.equal(run.error, null);
  assert.equal(run.startedAt, START, 'runs are stamped with the host clock');
  assert.equal(run.idempotencyKey, `${inst}@manual-${run.id}`);
  assert.deepEqual(logged(run.log, 'PAYLOAD'), {
    account_id: 'rome', event: 'onScheduledEvent', region: 'US', timestamp: Date.parse(at), domain: 'rome.plughost.local',
    data: { task_id: 100001, note: 'café' }, iparams: { greeting: 'ciao' }, idempotencyKey: run.idempotencyKey, schedule: { name: 'task_reminder' },
  });
  // The same run is in the history, with its log.
  const stored = await h.api('GET', `/api/v1/workspaces/rome/runs/${run.id}`);
  assert.equal(stored.status, 200);
  assert.deepEqual(stored.body, run);
});

test('event: without `at` the timestamp is the host clock; without data it is {}; the name defaults to manual', async () => {
  await clock.advance(90_000);
  const res = await h.api('POST', eventPath(inst), {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const payload = logged(res.body.run.log, 'PAYLOAD');
  assert.equal(payload.timestamp, START + 90_000);
  assert.deepEqual(payload.data, {});
  assert.deepEqual(payload.schedule, { name: 'manual' });
  assert.equal(res.body.run.target, 'onScheduledEvent manual');
  // An offset other than Z names the same instant.
  const offset = await h.api('POST', eventPath(inst), { at: '2026-06-10T09:00:00+02:00' });
  assert.equal(logged(offset.body.run.log, 'PAYLOAD').timestamp, Date.parse('2026-06-10T07:00:00Z'));
});

test('event: a handler that throws is a 200 carrying the failed run and its stack', async () => {
  const res = await h.api('POST', eventPath(inst), { data: { fail: 'on purpose' } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { run } = res.body;
  assert.equal(run.status, 'failed');
  assert.equal(run.error.code, 'PLUGIN_ERROR');
  assert.match(run.error.message, /handler failed: on purpose/);
  assert.match(run.log, /PAYLOAD /);
  assert.match(run.log, /\[host\] PLUGIN_ERROR: Error: handler failed: on purpose/);
});

test('event: data is held to $schedule\'s bounds (a JSON object of at most 4 KB) and the body to its fields', async () => {
  const fits = { b: 'x'.repeat(4096 - 8) };
  assert.equal(Buffer.byteLength(JSON.stringify(fits)), 4096);
  assert.equal((await h.api('POST', eventPath(inst), { data: fits })).status, 200);
  const cases: Array<[unknown, string]> = [
    [{ data: { b: 'x'.repeat(4096 - 7) } }, 'data'],
    [{ data: { b: 'é'.repeat(2045) } }, 'data'],
    [{ data: [1, 2] }, 'data'],
    [{ data: 'text' }, 'data'],
    [{ at: 'tomorrow' }, 'at'],
    [{ at: '2026-06-10T07:00:00' }, 'at'], // no zone: ambiguous
    [{ at: '2026-02-30T07:00:00Z' }, 'at'],
    [{ at: 1781074800000 }, 'at'],
    [{ name: '' }, 'name'],
    [{ payload: {} }, '(root)'],
  ];
  for (const [body, field] of cases) {
    const res = await h.api('POST', eventPath(inst), body);
    assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'INVALID_BODY');
    assert.ok(res.body.error.details.some((d: { path: string }) => d.path === field), `${field}: ${JSON.stringify(res.body.error.details)}`);
  }
  const notJson = await h.api('POST', eventPath(inst), '{"data": ');
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body.error.code, 'INVALID_JSON');
});

test('hook: the arguments are `at` in the workspace zone, the response carries an idempotency key', async () => {
  // 04:30Z is 06:30 in Rome (summer time): Wednesday 10 June 2026.
  const res = await h.api('POST', hookPath(inst, 'hScheduleDailyEarly'), { at: '2026-06-10T04:30:00Z' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { run } = res.body;
  assert.equal(run.kind, 'hook');
  assert.equal(run.trigger, 'manual');
  assert.equal(run.status, 'succeeded');
  assert.equal(run.target, 'hScheduleDailyEarly');
  assert.equal(run.idempotencyKey, `${inst}@manual-${run.id}`);
  assert.deepEqual(logged(run.log, 'HOOK'), { response: { idempotencyKey: run.idempotencyKey }, args: [2026, 5, 10, 6, 3] });
  // 23:30Z on 31 Dec is already 00:30 on Friday 1 January in Rome (winter time).
  const newYear = await h.api('POST', hookPath(inst, 'hScheduleDailyEarly'), { at: '2026-12-31T23:30:00Z' });
  assert.deepEqual(logged(newYear.body.run.log, 'HOOK').args, [2027, 0, 1, 0, 5]);
  // Without `at`: the host clock (09:31:30Z on Monday 1 June = 11:31 in Rome).
  const now = await h.api('POST', hookPath(inst, 'hScheduleDailyEarly'), {});
  assert.deepEqual(logged(now.body.run.log, 'HOOK').args, [2026, 5, 1, 11, 1]);
});

test('errors: unknown or inactive installation 404, no handler PLUGIN_NO_HANDLER, unknown hook 400', async () => {
  for (const p of [eventPath('inst_nope'), hookPath('inst_nope', 'hScheduleDailyEarly')]) {
    const res = await h.api('POST', p, {});
    assert.equal(res.status, 404, p);
    assert.equal(res.body.error.code, 'INSTALLATION_NOT_FOUND');
  }
  const elsewhere = await h.api('POST', eventPath(inst, 'other'), {});
  assert.equal(elsewhere.status, 404, 'an installation is found in its own workspace only');
  assert.equal(elsewhere.body.error.code, 'INSTALLATION_NOT_FOUND');
  const noWs = await h.api('POST', eventPath(inst, 'nowhere'), {});
  assert.equal(noWs.status, 404);
  assert.equal(noWs.body.error.code, 'WORKSPACE_NOT_FOUND');

  const noEvent = await h.api('POST', eventPath(noHandler), { data: {} });
  assert.equal(noEvent.status, 500);
  assert.equal(noEvent.body.error.code, 'PLUGIN_NO_HANDLER');
  assert.match(noEvent.body.error.message, /events\.onScheduledEvent\.handler/);
  const noHook = await h.api('POST', hookPath(noHandler, 'hScheduleDailyEarly'), {});
  assert.equal(noHook.body.error.code, 'PLUGIN_NO_HANDLER');
  assert.match(noHook.body.error.message, /P\.hook\('hScheduleDailyEarly'/);
  const unregistered = await h.api('POST', hookPath(inst, 'hScheduleHourly'), {});
  assert.equal(unregistered.status, 500);
  assert.equal(unregistered.body.error.code, 'PLUGIN_NO_HANDLER');

  for (const hook of ['hNotAHook', 'hPostObjectChange', 'constructor', '__proto__']) {
    const res = await h.api('POST', hookPath(inst, hook), {});
    assert.equal(res.status, 400, hook);
    assert.equal(res.body.error.code, 'INVALID_BODY', hook);
    assert.match(res.body.error.message, /hScheduleDailyEarly/);
  }
  const badAt = await h.api('POST', hookPath(inst, 'hScheduleDailyEarly'), { at: 'soon' });
  assert.equal(badAt.status, 400);
  assert.equal(badAt.body.error.code, 'INVALID_BODY');

  // No runs were recorded for any of these.
  const runs = await h.api('GET', `/api/v1/workspaces/rome/runs?installation=${noHandler}`);
  assert.deepEqual(runs.body.data, []);

  const paused = await h.api('PATCH', `/api/v1/workspaces/rome/installations/${inst}`, { active: false });
  assert.equal(paused.status, 200);
  try {
    for (const p of [eventPath(inst), hookPath(inst, 'hScheduleDailyEarly')]) {
      const res = await h.api('POST', p, {});
      assert.equal(res.status, 404, p);
      assert.equal(res.body.error.code, 'INSTALLATION_NOT_FOUND');
      assert.match(res.body.error.message, /inactive/);
    }
  } finally {
    assert.equal((await h.api('PATCH', `/api/v1/workspaces/rome/installations/${inst}`, { active: true })).status, 200);
  }
  assert.equal((await h.api('POST', hookPath(inst, 'hScheduleDailyEarly'), {})).status, 200, 'reactivated, its hooks are known again');
});

test('tokens: a workspace token triggers its own workspace only; no token is 401', async () => {
  const own = await h.api('POST', eventPath(inst), { data: { by: 'workspace token' } }, wsToken);
  assert.equal(own.status, 200, JSON.stringify(own.body));
  assert.equal(own.body.run.status, 'succeeded');
  const foreign = await h.api('POST', eventPath(inst), {}, otherToken);
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.error.code, 'FORBIDDEN');
  const foreignHook = await h.api('POST', hookPath(inst, 'hScheduleDailyEarly'), {}, otherToken);
  assert.equal(foreignHook.status, 403);
  const none = await h.api('POST', eventPath(inst), {}, null);
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'UNAUTHORIZED');
  const get = await h.api('GET', eventPath(inst));
  assert.equal(get.status, 405);
  assert.equal(get.body.error.code, 'METHOD_NOT_ALLOWED');
});

test('the virtual-clock endpoint exists only on a dev host', async () => {
  const res = await h.api('POST', '/api/v1/dev/clock', { advance: 60_000 });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'NOT_FOUND');
  assert.equal(clock.now(), START + 90_000, 'the clock did not move');
});
