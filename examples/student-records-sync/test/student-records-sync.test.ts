// The student-records-sync example (seed 002): both queues are discovered; events added on
// the route wait until 06:00 in the workspace's zone (London, BST), when the daily hook sends
// the `student` queue to the SIS stand-in as one XML batch; the `student-poll` queue is read
// through Haplo's poll API with a key (16 oldest, then mark with the token); a SIS that fails
// keeps the messages unsent until the next day's send succeeds.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestHost, type TestHost, type TestInstallation } from '../../../sdk/testing.ts';

let t: TestHost;
let app: TestInstallation;
const students = Array.from({ length: 20 }, (_, i) => ({
  event: i % 5 === 4 ? 'withdrawn' : 'enrolled',
  student: { id: `S${String(i + 1).padStart(3, '0')}`, name: i === 0 ? 'Ada <Lovelace> & co' : `Student ${i + 1}`, course: 'Mathematics' },
}));

before(async () => {
  t = await createTestHost({ start: '2026-09-01T00:00:00Z', timezone: 'Europe/London', stubs: ['sis.example.com'] });
  app = await t.install(path.join(import.meta.dirname, '..'));
});
after(async () => {
  await t.close();
});

test('both queues are discovered with the seed\'s titles', async () => {
  const send = await t.messages('student');
  assert.equal(send.queue?.method, 'send');
  assert.equal(send.queue?.title, 'Student Records System update messages');
  const poll = await t.messages('student-poll');
  assert.equal(poll.queue?.method, 'poll');
  assert.equal(poll.queue?.unsent, 0);
});

test('the route validates and queues each event in both queues', async () => {
  const bad = await app.call('events', { body: [{ event: 'graduated', student: { id: 'S1', name: 'x' } }, { event: 'enrolled', student: {} }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'events[0].event must be one of enrolled, updated, withdrawn; events[1].student needs an id and a name');
  assert.equal((await app.call('events')).status, 405);

  const res = await app.call('events', { body: students });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.added, 20);
  assert.equal(res.body.ids.student.length, 20);
  const queued = await t.messages('student');
  assert.equal(queued.queue?.unsent, 20);
  assert.deepEqual(queued.messages[0]!.data, { event: 'enrolled', studentId: 'S001', name: 'Ada <Lovelace> & co', course: 'Mathematics' });
  assert.equal((await t.messages('student-poll')).queue?.unsent, 20);
});

test('at 06:00 London time the daily hook sends the student queue to the SIS as one XML batch', async () => {
  const sis = t.stub('sis.example.com');
  await t.setTime('2026-09-01T04:59:00Z'); // 05:59 BST
  assert.equal(sis.requests.length, 0);
  await t.advance(60_000);
  const [req] = await sis.waitFor(1);
  assert.equal(req!.method, 'PUT');
  assert.equal(req!.path, '/api/student-updates');
  assert.equal(req!.headers['x-batch-size'], '20');
  assert.equal(req!.headers['content-type'], 'application/xml');
  const { messages } = await t.messages('student');
  const token = Buffer.from(messages.map((m) => m.id).join(','), 'utf8').toString('base64');
  const lines = req!.text.split('\n');
  assert.equal(lines[0], '<?xml version="1.0" encoding="UTF-8"?>');
  assert.equal(lines[1], `<studentUpdates token="${token}">`);
  assert.equal(lines.length, 2 + 20 + 1);
  assert.equal(lines[2], `  <update id="${messages[0]!.id}" datetime="${messages[0]!.createdAt}" event="enrolled"><student id="S001"><name>Ada &lt;Lovelace&gt; &amp; co</name><course>Mathematics</course></student></update>`);
  assert.match(lines[6]!, /event="withdrawn"><student id="S005">/);

  const sent = await t.messages('student');
  assert.equal(sent.queue?.unsent, 0);
  assert.equal(sent.queue?.sent, 20);
  assert.equal((await t.messages('student-poll')).queue?.unsent, 20, 'the poll queue waits for its poller');
  const [hook] = await t.runs({ kind: 'hook' });
  assert.equal(hook!.status, 'succeeded');
  assert.equal(hook!.startedAt, Date.parse('2026-09-01T05:00:00Z'));
});

test('a poller with a key fetches the 16 oldest messages in Haplo\'s JSON and marks them with the token', async () => {
  const made = await t.api('POST', '/api/v1/workspaces/test/integration-messages/student-poll/keys');
  assert.equal(made.status, 201);
  const auth = { authorization: `Basic ${Buffer.from(`haplo:${made.body.key}`).toString('base64')}` };
  const base = '/workspaces/test/api/haplo-integration-messages/poll/student-poll';

  const fetched = await t.call(`${base}/fetch`, { headers: auth });
  assert.equal(fetched.status, 200, fetched.text);
  const all = (await t.messages('student-poll')).messages;
  const oldest = all.slice(0, 16);
  const token = Buffer.from(oldest.map((m) => m.id).join(','), 'utf8').toString('base64');
  assert.deepEqual(fetched.body, {
    version: 0, token, messages: oldest.map((m) => ({ id: m.id, datetime: m.createdAt, ...m.data })),
  });
  assert.equal(fetched.headers['x-haplo-token'], token);

  const marked = await t.call(`${base}/mark`, { method: 'POST', headers: auth, body: { token } });
  assert.deepEqual(marked.body, { markedCount: 16, unreadCount: 4 });
  const rest = await t.call(`${base}/fetch`, { headers: auth });
  assert.deepEqual(rest.body.messages.map((m: { studentId: string }) => m.studentId), ['S017', 'S018', 'S019', 'S020']);

  const wrongQueue = await t.call('/workspaces/test/api/haplo-integration-messages/poll/student/fetch', { headers: auth });
  assert.equal(wrongQueue.status, 403);
  assert.equal((await t.call(`${base}/fetch`)).status, 401);
});

test('when the SIS fails the batch stays unsent, and the next day\'s send delivers it', async () => {
  const sis = t.stub('sis.example.com', () => ({ status: 500, body: 'maintenance' }));
  const before = sis.requests.length;
  assert.equal((await app.call('events', { body: { event: 'updated', student: { id: 'S002', name: 'Student 2', course: 'Physics' } } })).status, 201);
  await t.setTime('2026-09-02T05:10:00Z'); // 06:10 BST, past the hook's retries
  assert.ok(sis.requests.length > before, 'the SIS was tried');
  const failed = await t.messages('student');
  assert.equal(failed.queue?.unsent, 1);
  assert.match(failed.queue?.lastError ?? '', /answered 500/);
  const hooks = await t.runs({ kind: 'hook' });
  assert.equal(hooks.at(-1)!.status, 'failed');

  sis.reply(() => ({ status: 200, body: { ok: true } }));
  await t.setTime('2026-09-03T05:00:00Z');
  assert.match(sis.requests.at(-1)!.text, /<student id="S002"><name>Student 2<\/name><course>Physics<\/course>/);
  const after = await t.messages('student');
  assert.equal(after.queue?.unsent, 0);
  assert.equal(after.queue?.sent, 21);
});
