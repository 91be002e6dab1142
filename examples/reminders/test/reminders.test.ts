// The reminders example (seed 001) on virtual time: a one-time reminder fires at its time,
// posts to the chat stand-in and is listed from $db; the recurring digest fires every 15
// minutes (4 times in a virtual hour), reporting the reminders since the previous one; a
// second POST updates it, DELETE stops it; $schedule's rules come back as {status, message}.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestHost, type TestHost, type TestInstallation } from '../../../sdk/testing.ts';

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
let t: TestHost;
let app: TestInstallation;

before(async () => {
  t = await createTestHost({ start: '2026-05-04T09:00:00Z', stubs: ['chat.example.com'] });
  app = await t.install(path.join(import.meta.dirname, '..'), { iparams: { chatToken: 'secret-token' } });
});
after(async () => {
  await t.close();
});

test('a one-time reminder fires at its time, posts to chat and is listed', async () => {
  const at = iso(t.now() + 10 * MIN);
  const created = await app.call('remind', { body: { name: 'standup', text: 'Stand-up in the big room', at } });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.body, { name: 'standup', schedule_at: at });
  const fetched = await app.call('remind', { query: { name: 'standup' } });
  assert.deepEqual(fetched.body, { name: 'standup', data: { kind: 'reminder', text: 'Stand-up in the big room' }, schedule_at: at });

  await t.advance(9 * MIN);
  assert.deepEqual((await app.call('fired')).body, { fired: [] });
  const chat = t.stub('chat.example.com');
  assert.equal(chat.requests.length, 0);

  await t.advance(MIN);
  const [posted] = await chat.waitFor(1);
  assert.equal(posted!.path, '/api/messages');
  assert.equal(posted!.headers.authorization, 'Bearer secret-token');
  assert.deepEqual(posted!.body, { channel: 'reminders', text: 'Reminder: Stand-up in the big room' });
  const fired = (await app.call('fired')).body.fired;
  assert.equal(fired.length, 1);
  assert.deepEqual({ ...fired[0], key: undefined }, { kind: 'reminder', name: 'standup', text: 'Reminder: Stand-up in the big room', at, delivered: true, key: undefined });
  assert.match(fired[0].key, /@/);
  const [run] = await t.runs({ kind: 'event' });
  assert.equal(run!.status, 'succeeded');
  assert.equal(run!.startedAt, Date.parse(at));
});

test('the digest fires 4 times in a virtual hour, each with the reminders since the previous one', async () => {
  const start = t.now();
  const made = await app.call('digest', { body: { everyMinutes: 15, start: iso(start + 15 * MIN) } });
  assert.equal(made.status, 201, made.text);
  for (const [name, minutes] of [['tea', 20], ['call', 25]] as const) {
    assert.equal((await app.call('remind', { body: { name, text: `Time for ${name}`, at: iso(start + minutes * MIN) } })).status, 201);
  }
  const schedules = await t.api('GET', '/api/v1/workspaces/test/schedules');
  const digest = schedules.body.data.find((s: { name: string }) => s.name === 'digest');
  assert.equal(digest.nextRunAt, iso(start + 15 * MIN));

  const chat = t.stub('chat.example.com');
  const before = chat.requests.length;
  await t.advance(60 * MIN);
  const texts = chat.requests.slice(before).map((r) => (r.body as { text: string }).text);
  assert.deepEqual(texts, [
    `Digest: 0 reminder(s) since ${iso(start)}`,
    'Reminder: Time for tea',
    'Reminder: Time for call',
    `Digest: 2 reminder(s) since ${iso(start + 15 * MIN)}\n- Time for tea\n- Time for call`,
    `Digest: 0 reminder(s) since ${iso(start + 30 * MIN)}`,
    `Digest: 0 reminder(s) since ${iso(start + 45 * MIN)}`,
  ]);
  const digests = (await t.runs({ kind: 'event', schedule: digest.id }));
  assert.deepEqual(digests.map((r) => r.startedAt), [15, 30, 45, 60].map((m) => start + m * MIN));
  assert.ok(digests.every((r) => r.status === 'succeeded'));
});

test('a second POST updates the digest; DELETE stops it', async () => {
  const updated = await app.call('digest', { body: { everyMinutes: 30, start: iso(t.now() + 30 * MIN) } });
  assert.equal(updated.status, 200, updated.text);
  assert.equal(updated.body.updated.repeat.frequency, 30);
  const count = async () => (await t.runs({ kind: 'event' })).length;
  const n = await count();
  await t.advance(60 * MIN);
  assert.equal(await count(), n + 2);
  assert.deepEqual((await app.call('digest', { method: 'DELETE' })).body, { status: 200, message: 'Schedule deleted successfully' });
  await t.advance(120 * MIN);
  assert.equal(await count(), n + 2);
});

test('$schedule\'s rules answer as {status, message}', async () => {
  const soon = await app.call('remind', { body: { text: 'too soon', at: iso(t.now() + MIN) } });
  assert.equal(soon.status, 400);
  assert.match(soon.body.message, /5 minutes/);
  const at = iso(t.now() + 10 * MIN);
  assert.equal((await app.call('remind', { body: { name: 'twice', text: 'x', at } })).status, 201);
  const taken = await app.call('remind', { body: { name: 'twice', text: 'x', at } });
  assert.equal(taken.status, 409);
  assert.equal(taken.body.status, 409);
  assert.equal((await app.call('remind', { query: { name: 'nobody' } })).status, 404);
  assert.equal((await app.call('digest', { body: { everyMinutes: 2 } })).status, 400, 'minutes repeat at least every 5');
  assert.equal((await app.call('remind', { body: {} })).status, 400);
});

test('a chat that is down does not lose the firing: it is recorded as not delivered', async () => {
  t.stub('chat.example.com', () => ({ status: 503, body: 'down' }));
  const at = iso(t.now() + 5 * MIN);
  assert.equal((await app.call('remind', { body: { name: 'offline', text: 'still recorded', at } })).status, 201);
  await t.advance(5 * MIN);
  const fired = (await app.call('fired')).body.fired;
  const last = fired.at(-1);
  assert.equal(last.name, 'offline');
  assert.equal(last.delivered, false);
  const run = (await t.runs({ kind: 'event' })).at(-1)!;
  assert.match((await t.run(run.id)).log, /could not post to chat: chat answered 503/);
});
