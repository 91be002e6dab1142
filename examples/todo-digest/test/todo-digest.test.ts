// The todo-digest example (seed 000, the Zengine tutorial's plugin.js unchanged) through the
// SDK harness: records seeded in a form, the route called with a scheduled webhook's body,
// the digest posted to the HipChat stand-in and returned; then a real daily scheduled
// webhook on virtual time calls it each day with its own times.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestHost, type TestHost, type TestInstallation } from '../../../sdk/testing.ts';

let t: TestHost;
let app: TestInstallation;
let formId: number;
let ids: number[];

before(async () => {
  t = await createTestHost({ start: '2026-02-02T20:00:00Z', stubs: ['api.hipchat.com'] });
  app = await t.install(path.join(import.meta.dirname, '..'));
  const form = await t.forms.create('To do');
  formId = form.id;
  ids = (await t.records.create(formId, ['Frontend Interface', 'Backend API', 'Documentation'])).map((r) => r.id);
  const done = await t.forms.createFolder(formId, 'Completed');
  await t.records.create(formId, { name: 'Shipped already', folder: { id: done.id } });
});
after(async () => {
  await t.close();
});

test('the tutorial plugin posts the digest of the to-do folder and answers with it', async () => {
  const res = await app.call('digest', {
    query: { formId, folderId: 0, hipchatRoom: 42, hipchatToken: 'secret-token' },
    body: { data: { scheduled: '2015-09-23 21:00:00', nextScheduled: '2015-09-24 21:00:00' }, scheduled: { id: 7 } },
  });
  const expected = [
    'Scheduled @ 2015-09-23 21:00:00',
    `${ids[0]} - Frontend Interface`, `${ids[1]} - Backend API`, `${ids[2]} - Documentation`,
    'Next Scheduled @ 2015-09-24 21:00:00',
  ].join('\n');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, expected);

  const [posted] = await t.stub('api.hipchat.com').waitFor(1);
  assert.equal(posted!.method, 'POST');
  assert.equal(posted!.url, '/v2/room/42/message?auth_token=secret-token');
  assert.deepEqual(posted!.body, { message: expected });
  const run = await t.run(res.runId!);
  assert.equal(run.status, 'succeeded');
  assert.equal(run.httpStatus, 200);
});

test('a GET gets the tutorial\'s 404 "Not found"', async () => {
  const res = await app.call('digest');
  assert.equal(res.status, 404);
  assert.equal(res.text, 'Not found');
});

test('a daily scheduled webhook calls it at 21:00 each day with the schedule\'s times', async () => {
  const chat = t.stub('api.hipchat.com');
  const before = chat.requests.length;
  const made = await t.api('POST', '/api/v1/workspaces/test/scheduled-webhooks', {
    url: `/workspaces/test/todo/digest?formId=${formId}&folderId=0&hipchatRoom=7&hipchatToken=tok`,
    frequency: 'daily', start: '2026-02-02 21:00:00', timezone: 'UTC', description: 'daily to-do digest', isActive: true,
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await t.setTime('2026-02-04T21:00:00Z');
  const messages = chat.requests.slice(before).map((r) => (r.body as { message: string }).message);
  assert.equal(messages.length, 3);
  assert.deepEqual(messages.map((m) => [m.split('\n')[0], m.split('\n').at(-1)]), [
    ['Scheduled @ 2026-02-02 21:00:00', 'Next Scheduled @ 2026-02-03 21:00:00'],
    ['Scheduled @ 2026-02-03 21:00:00', 'Next Scheduled @ 2026-02-04 21:00:00'],
    ['Scheduled @ 2026-02-04 21:00:00', 'Next Scheduled @ 2026-02-05 21:00:00'],
  ]);
  const runs = await t.runs({ kind: 'webhook' });
  assert.equal(runs.length, 3);
  assert.ok(runs.every((r) => r.status === 'succeeded' && r.httpStatus === 200));
});
