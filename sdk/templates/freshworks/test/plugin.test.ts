// freshworks-starter: a reminder created through the route is a one-time $schedule; moving
// virtual time past it fires onScheduledEventHandler, which stores it in $db for the route to
// list. Times under 5 minutes ahead are refused with Freshworks' {status, message}.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestHost, type TestHost, type TestInstallation } from 'plughost/sdk/testing';

const pluginDir = path.join(import.meta.dirname, '..');
const MIN = 60_000;
let t: TestHost;
let app: TestInstallation;

before(async () => {
  t = await createTestHost({ start: '2026-01-05T09:00:00Z' });
  app = await t.install(pluginDir);
});
after(async () => {
  await t.close();
});

test('a reminder fires at its time and is listed', async () => {
  const at = new Date(t.now() + 10 * MIN).toISOString();
  const created = await app.call('remind', { body: { name: 'standup', text: 'Daily stand-up', at } });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.body, { scheduled: 'standup', at });

  await t.advance(9 * MIN);
  assert.deepEqual((await app.call('remind')).body, { fired: [] });

  await t.advance(1 * MIN);
  assert.deepEqual((await app.call('remind')).body, { fired: [{ name: 'standup', text: 'Daily stand-up', at }] });
  const [run] = await t.runs({ kind: 'event' });
  assert.equal(run!.status, 'succeeded');
  assert.match((await t.run(run!.id)).log, /reminder standup: Daily stand-up/);
});

test('a time under 5 minutes ahead is refused with 400', async () => {
  const res = await app.call('remind', { body: { text: 'too soon', at: new Date(t.now() + MIN).toISOString() } });
  assert.equal(res.status, 400);
  assert.equal(res.body.status, 400);
  assert.match(res.body.message, /5 minutes/);
});
