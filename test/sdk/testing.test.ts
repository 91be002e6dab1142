// The plugin author's harness (sdk/testing.ts): installing from a folder and inline, calling
// routes (query, JSON/text bodies, headers, parsed answers, run ids), runs and their logs,
// stand-ins for external hosts (recording, custom replies, permissions still enforced),
// virtual time that fires every occurrence of a recurring schedule on time, Haplo hooks in the
// workspace's time zone, workspace data for zn-http, message queues, production limits, and
// the errors an author sees when something is wrong.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestHost, TestHostError, type TestHost } from '../../sdk/testing.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const hello = path.join(import.meta.dirname, 'fixtures/hello');
let t: TestHost;

before(async () => {
  t = await createTestHost({ start: '2026-03-02T00:00:00Z', stubs: ['api.example.com', 'other.example.com'] });
});
after(async () => {
  await t.close();
});

test('install from a folder: the installation has its routes; a call gets parsed JSON, headers and the run id', async () => {
  const app = await t.install(hello, { iparams: { greeting: 'hi' } });
  assert.equal(app.plugin, 'sdk-hello');
  assert.equal(app.version, '1.0.0');
  assert.equal(app.namespace, 'hello');
  assert.equal(app.workspaceId, 'test');
  assert.equal(app.active, true);
  assert.deepEqual(app.iparams, { greeting: 'hi' });
  assert.deepEqual(app.routes, [{ route: 'greet', access: 'public', path: '/workspaces/test/hello/greet' }]);

  const res = await app.call('greet', { query: { name: 'Ada', tag: ['a', 'b'] }, headers: { 'x-test': 'yes' } });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type']!, /application\/json/);
  assert.deepEqual(res.body, {
    text: 'hello Ada', method: 'GET', query: { name: 'Ada', tag: ['a', 'b'] }, header: 'yes', path: '/workspaces/test/hello/greet',
  });
  assert.equal(res.text, JSON.stringify(res.body));
  assert.match(res.runId!, /\S/);

  const run = await t.run(res.runId!);
  assert.equal(run.kind, 'route');
  assert.equal(run.status, 'succeeded');
  assert.equal(run.httpStatus, 200);
  assert.match(run.log, /greeting Ada/);
  const runs = await t.runs({ kind: 'route' });
  assert.equal(runs.at(-1)!.id, res.runId);
});

test('call sends objects as JSON and strings as text, POST by default with a body, and takes a full path', async () => {
  const json = await t.call('hello/greet', { body: { a: [1, 2] } });
  assert.equal(json.body.method, 'POST');
  assert.deepEqual(json.body.body, { a: [1, 2] });
  const text = await t.call('/workspaces/test/hello/greet/sub?name=Bo', { method: 'PUT', body: 'plain words' });
  assert.equal(text.body.method, 'PUT');
  assert.equal(text.body.body, 'plain words');
  assert.equal(text.body.text, 'hello Bo');
  assert.equal(text.body.path, '/workspaces/test/hello/greet/sub');
  const missing = await t.call('hello/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'ROUTE_NOT_FOUND');
});

test('the same package installs into a second workspace (made on demand); other files under the same version are refused', async () => {
  const second = await t.install(hello, { workspace: 'second', iparams: { greeting: 'x' } });
  assert.equal(second.workspaceId, 'second');
  assert.equal((await second.call('greet', { query: { name: 'Cy' } })).body.text, 'hello Cy');
  await assert.rejects(
    t.install({ 'plugin.json': { name: 'sdk-hello', version: '1.0.0', namespace: 'hello2' }, 'plugin.js': 'exports.run = function () {};' }, { workspace: 'third' }),
    (err: TestHostError) => err instanceof TestHostError && err.code === 'VERSION_EXISTS' && /bump "version"/.test(err.message),
  );
});

test('a broken manifest and missing iparams reject with the host\'s codes and details', async () => {
  await assert.rejects(
    t.install({ 'plugin.json': { name: 'Bad Name', version: 'one', namespace: 'api' } }),
    (err: TestHostError) => {
      assert.equal(err.code, 'INVALID_MANIFEST');
      assert.equal(err.status, 422);
      const paths = (err.details as Array<{ path: string }>).map((d) => d.path).sort();
      assert.deepEqual(paths, ['name', 'namespace', 'version']);
      return true;
    },
  );
  await assert.rejects(t.install(hello, { workspace: 'fourth' }), { code: 'INVALID_IPARAMS', status: 422 });
});

test('a stub records what the plugin sent and answers with its handler; hosts outside permissions.hosts stay refused', async () => {
  const app = await t.install({
    'plugin.json': { name: 'sdk-fetcher', version: '1.0.0', namespace: 'fetcher', services: [{ route: 'go', main: 'plugin.js' }], permissions: { hosts: ['api.example.com'] }, limits: { timeoutMs: 5000 } },
    'plugin.js': `
var requestify = require('requestify');
exports.run = function (e) {
  var target = e.request.query.to || 'https://api.example.com/v1/items?x=1';
  requestify.post(target, { item: 'one' }, { headers: { 'x-key': 'k1' } }).then(function (r) {
    e.response.json({ code: r.getCode(), body: r.getBody() });
  }, function (err) {
    e.response.status(502).json({ failed: String(err && (err.message || err.code || err)) });
  });
};`,
  });
  const api = t.stub('api.example.com', (req) => ({ status: 201, body: { got: req.body, path: req.path } }));
  const res = await app.call('go');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { code: 201, body: { got: { item: 'one' }, path: '/v1/items' } });
  const [req] = await api.waitFor(1);
  assert.equal(req!.method, 'POST');
  assert.equal(req!.url, '/v1/items?x=1');
  assert.deepEqual(req!.query, { x: '1' });
  assert.equal(req!.headers['x-key'], 'k1');
  assert.equal(req!.text, '{"item":"one"}');

  // other.example.com has a stub but is not in this plugin's permissions: production refuses it.
  const other = t.stub('other.example.com');
  const denied = await app.call('go', { query: { to: 'https://other.example.com/x' } });
  assert.equal(denied.status, 502);
  assert.match(denied.body.failed, /permissions\.hosts/);
  assert.equal(other.requests.length, 0);
  assert.throws(() => t.stub('nowhere.example.com'), /list it in createTestHost/);
});

test('advance stops at every due time: a 5-minute repeat fires 12 times in one advance of an hour; setTime reaches a one-time schedule', async () => {
  const app = await t.install({
    'plugin.json': {
      name: 'sdk-sched', version: '1.0.0', namespace: 'sched', main: 'server.js', services: [{ route: 'make', main: 'server.js' }],
      events: { onScheduledEvent: { handler: 'onScheduledEventHandler' } }, limits: { timeoutMs: 2000 },
    },
    'server.js': `
exports = {
  run: function (e) {
    $schedule.create(e.request.body).then(function (ok) { e.response.json(ok); }, function (err) { e.response.status(err.status).json(err); });
  },
  onScheduledEventHandler: function (payload) { console.log('fired ' + payload.schedule.name + ' at ' + new Date(payload.timestamp).toISOString()); },
};`,
  });
  const start = t.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const every5 = await app.call('make', { body: { name: 'every5', data: {}, schedule_at: iso(start + 5 * MIN), repeat: { time_unit: 'minutes', frequency: 5 } } });
  assert.deepEqual(every5.body, { status: 200, message: 'Schedule created successfully' });
  const once = await app.call('make', { body: { name: 'once', data: { n: 1 }, schedule_at: '2026-03-02T03:30:00.000Z' } });
  assert.equal(once.status, 200, once.text);
  const tooSoon = await app.call('make', { body: { name: 'soon', data: {}, schedule_at: iso(start + MIN) } });
  assert.equal(tooSoon.status, 400, 'the production 5-minute lead applies');

  await t.advance(HOUR);
  assert.equal(t.now(), start + HOUR);
  const events = await t.runs({ kind: 'event' });
  assert.equal(events.length, 12);
  assert.deepEqual(events.map((r) => r.startedAt), Array.from({ length: 12 }, (_, i) => start + (i + 1) * 5 * MIN));
  assert.ok(events.every((r) => r.status === 'succeeded'));

  const schedules = await t.api('GET', '/api/v1/workspaces/test/schedules');
  assert.equal(schedules.status, 200);
  const every5Schedule = schedules.body.data.find((s: { name: string }) => s.name === 'every5');
  assert.equal(every5Schedule.nextRunAt, iso(start + 65 * MIN));
  assert.equal((await app.call('make', { body: { name: 'x', data: { v: 'y'.repeat(5000) }, schedule_at: iso(t.now() + HOUR) } })).status, 400, 'data over 4 KB');

  await t.setTime('2026-03-02T03:30:00.000Z');
  const all = await t.runs({ kind: 'event' });
  assert.equal(all.length, 12 + 30 + 1, 'every5 kept firing up to 03:30, and once fired');
  const last = all.filter((r) => r.startedAt === Date.parse('2026-03-02T03:30:00.000Z'));
  assert.equal(last.length, 2, 'every5 and once, both at 03:30');
  const logs = await Promise.all(last.map(async (r) => (await t.run(r.id)).log));
  assert.equal(logs.filter((l) => l.includes('fired once at 2026-03-02T03:30:00.000Z')).length, 1);
  await assert.rejects(t.setTime(start), RangeError);
});

test('workspace data seeded through forms/records is what zn-http reads', async () => {
  const form = await t.forms.create('To do');
  const done = await t.forms.createFolder(form.id, 'Done');
  const made = await t.records.create(form.id, ['Write docs', { name: 'Ship', fields: { priority: 1 } }]);
  await t.records.create(form.id, { name: 'Old', folder: { id: done.id } });
  assert.deepEqual(made.map((r) => r.name), ['Write docs', 'Ship']);
  assert.equal(made[1].priority, 1);
  assert.deepEqual((await t.records.list(form.id, { folder: 0 })).map((r) => r.name), ['Write docs', 'Ship']);
  assert.equal((await t.forms.list()).length, 1);
  const app = await t.install({
    'plugin.json': { name: 'sdk-reader', version: '1.0.0', namespace: 'reader', services: [{ route: 'list', main: 'plugin.js' }], limits: { timeoutMs: 2000 } },
    'plugin.js': `
var znHttp = require('zn-http');
exports.run = function (e) {
  znHttp().get('/forms/' + e.request.query.formId + '/records?folder.id=0').then(function (r) {
    e.response.send(r.getBody().data.map(function (x) { return x.id + ' - ' + x.name; }).join('\\n'));
  });
};`,
  });
  const res = await app.call('list', { query: { formId: form.id } });
  assert.equal(res.status, 200);
  assert.equal(typeof res.body, 'string');
  assert.equal(res.body, `${made[0].id} - Write docs\n${made[1].id} - Ship`);
});

test('production limits apply: a busy loop over limits.timeoutMs is a 504 PLUGIN_TIMEOUT with a failed run', async () => {
  const app = await t.install({
    'plugin.json': { name: 'sdk-spin', version: '1.0.0', namespace: 'spin', services: [{ route: 'go', main: 'plugin.js' }], limits: { timeoutMs: 200 } },
    'plugin.js': 'exports.run = function () { for (;;) {} };',
  });
  const res = await app.call('go');
  assert.equal(res.status, 504);
  assert.equal(res.body.error.code, 'PLUGIN_TIMEOUT');
  const run = await t.run(res.runId!);
  assert.equal(run.status, 'timed-out');
});

test('Haplo hooks fire in the workspace\'s time zone; messages() shows the queue and its messages', async () => {
  const london = await createTestHost({ start: '2026-06-01T00:00:00Z', timezone: 'Europe/London', workspace: 'uni', stubs: ['sis.example.com'] });
  try {
    assert.equal(london.workspace, 'uni');
    const sis = london.stub('sis.example.com');
    const app = await london.install({
      'plugin.json': { name: 'sdk-haplo', version: '1.0.0', namespace: 'h', main: 'main.js', services: [{ route: 'add', main: 'main.js' }], permissions: { hosts: ['sis.example.com'] }, limits: { timeoutMs: 2000 } },
      'main.js': `
P.implementService('haplo:integration-message:discover', function (discover) {
  discover({ group: 'g', method: 'send', title: 'G queue', description: 'test' });
});
P.implementService('haplo:integration-message:setup-http-request:g', function (http) { http.url('https://sis.example.com/in'); });
P.hook('hScheduleDailyEarly', function (response, year, month, day, hour) {
  console.log('early ' + [year, month, day, hour].join('/'));
  O.service('haplo:integration-message:send', { group: 'g' });
});
exports.run = function (e) { e.response.json({ id: O.service('haplo:integration-message:add', { group: 'g', data: { n: e.request.query.n } }) }); };`,
    });
    for (const n of ['1', '2']) assert.equal((await app.call('add', { query: { n } })).status, 200);
    const before = await london.messages('g');
    assert.equal(before.queue?.title, 'G queue');
    assert.equal(before.queue?.unsent, 2);
    assert.deepEqual(before.messages.map((m) => [m.data.n, m.status]), [['1', 'unsent'], ['2', 'unsent']]);

    await london.setTime('2026-06-01T04:59:59Z');
    assert.equal((await london.runs({ kind: 'hook' })).length, 0, 'not yet 06:00 in London');
    await london.advance(1000); // 05:00 UTC is 06:00 BST
    const hooks = await london.runs({ kind: 'hook' });
    assert.equal(hooks.length, 1);
    assert.equal(hooks[0]!.status, 'succeeded');
    assert.match((await london.run(hooks[0]!.id)).log, /early 2026\/5\/1\/6/);
    const [req] = await sis.waitFor(1);
    assert.deepEqual((req!.body as { messages: Array<{ n: string }> }).messages.map((m) => m.n), ['1', '2']);
    const afterSend = await london.messages('g');
    assert.equal(afterSend.queue?.sent, 2);
    assert.deepEqual(afterSend.messages.map((m) => m.status), ['sent', 'sent']);
  } finally {
    await london.close();
    await london.close(); // safe twice
  }
});

test('an FDK app folder installs as it is: server methods with invoke, its schedule on the virtual clock, product events', async () => {
  const app = await t.install(path.join(import.meta.dirname, 'fixtures/ticket-scheduler'), { workspace: 'fdk-sdk' });
  assert.deepEqual([app.plugin, app.version, app.namespace], ['ticket-scheduler', '1.0.0', 'ticket-scheduler']);
  assert.deepEqual(app.iparams, { team: 'support' });
  const created = await app.invoke('scheduleFollowUp', { ticketId: 42, inMinutes: 30 });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.deepEqual(created.body.response, { status: 200, message: 'Schedule created successfully' });
  assert.deepEqual((await app.invoke('followUps')).body.response, []);
  await t.advance(29 * MIN);
  assert.deepEqual((await app.invoke('followUps')).body.response, []);
  await t.advance(2 * MIN);
  const list = (await app.invoke('followUps')).body.response as Array<{ ticketId: number; team: string }>;
  assert.deepEqual(list.map((f) => [f.ticketId, f.team]), [[42, 'support']]);
  const refused = await app.invoke('scheduleFollowUp', { ticketId: 43, inMinutes: 1 });
  assert.equal(refused.status, 400);
  assert.match(refused.body.message, /5 minutes/);
  const [ticket] = await t.event('onTicketCreate', { ticket: { id: 7, subject: 'Printer on fire' } }, { workspace: 'fdk-sdk' });
  assert.equal(ticket!.status, 'succeeded');
  assert.match(ticket!.log!, /new ticket 7: Printer on fire/);
  assert.deepEqual((await t.runs({ workspace: 'fdk-sdk', kind: 'smi' })).map((r) => r.target), ['scheduleFollowUp', 'followUps', 'followUps', 'followUps', 'scheduleFollowUp']);
});
