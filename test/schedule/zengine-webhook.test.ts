// Seed 000 end to end on the scheduler: the tutorial's plugin.js, unchanged, called by a
// daily scheduled webhook whose `start` is 21:00 in a named zone. Moving the virtual clock
// past 21:00 makes the chat stand-in receive the tutorial's message, with `Scheduled @` and
// `Next Scheduled @` in that zone.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const example = path.join(import.meta.dirname, '../../examples/todo-digest');
const clock = createVirtualClock(Date.parse('2015-09-23T12:00:00Z'));
let h: TestHost;
let chat: StubServer;

before(async () => {
  chat = await startStub();
  h = await startHost({ clock, egressMap: { 'api.hipchat.com': chat.url } });
  const read = (f: string) => fs.readFileSync(path.join(example, f), 'utf8');
  assert.equal((await h.publish({ 'plugin.json': read('plugin.json'), 'plugin.js': read('plugin.js'), 'lib/zn-http.js': read('lib/zn-http.js') })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'acme', name: 'Acme', timezone: 'America/New_York' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/acme/installations', { plugin: 'todo-digest' })).status, 201);
});
after(async () => {
  await h.close();
  await chat.close();
});

test('a daily webhook at 21:00 America/New_York posts the tutorial digest with zoned times', async () => {
  const form = (await h.api('POST', '/api/v1/workspaces/acme/forms', { name: 'To do' })).body.data;
  const ids: number[] = [];
  for (const name of ['Frontend Interface', 'Backend API', 'Documentation']) {
    ids.push((await h.api('POST', `/api/v1/workspaces/acme/forms/${form.id}/records`, { name })).body.data.id);
  }
  const created = await h.api('POST', '/api/v1/workspaces/acme/scheduled-webhooks', {
    url: `/workspaces/acme/todo/digest?formId=${form.id}&folderId=0&hipchatRoom=42&hipchatToken=tok`,
    frequency: 'daily', start: '2015-09-23 21:00:00', timezone: 'America/New_York', description: 'daily to-do digest',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.body.secretKey, /^[0-9a-f]{48}$/);
  assert.equal(created.body.nextRunAt, '2015-09-24T01:00:00.000Z'); // 21:00 EDT
  assert.equal(created.body.nextRunAtLocal, '2015-09-23 21:00:00');

  const preview = await h.api('GET', `/api/v1/workspaces/acme/scheduled-webhooks/${created.body.id}/preview?count=3`);
  assert.deepEqual(preview.body.data.map((p: { local: string }) => p.local), ['2015-09-23 21:00:00', '2015-09-24 21:00:00', '2015-09-25 21:00:00']);

  await clock.set(Date.parse('2015-09-24T00:59:59Z'));
  await h.host.scheduler.idle();
  assert.equal(chat.requests.length, 0, 'nothing fires before 21:00');

  const finished = h.host.events.waitFor('occurrence:finished');
  await clock.set(Date.parse('2015-09-24T01:00:00Z'));
  const [info] = await finished;
  assert.equal(info.status, 'succeeded');

  const expected = [
    'Scheduled @ 2015-09-23 21:00:00', `${ids[0]} - Frontend Interface`, `${ids[1]} - Backend API`, `${ids[2]} - Documentation`,
    'Next Scheduled @ 2015-09-24 21:00:00',
  ].join('\n');
  const [posted] = await chat.waitForRequests(1);
  assert.equal(posted!.url, '/v2/room/42/message?auth_token=tok');
  assert.deepEqual(JSON.parse(posted!.body), { message: expected });

  const run = await h.api('GET', `/api/v1/workspaces/acme/runs/${info.runId}`);
  assert.equal(run.body.kind, 'webhook');
  assert.equal(run.body.trigger, 'schedule');
  assert.equal(run.body.status, 'succeeded');
  assert.equal(run.body.idempotencyKey, info.idempotencyKey);
  assert.equal(run.body.scheduleId, created.body.id);

  const after = await h.api('GET', `/api/v1/workspaces/acme/scheduled-webhooks/${created.body.id}`);
  assert.equal(after.body.nextRunAtLocal, '2015-09-24 21:00:00');
});
