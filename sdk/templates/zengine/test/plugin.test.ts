// zengine-starter: the summary route reads the workspace's records through zn-http, posts the
// summary to api.example.com (a local stand-in) and answers with it; a failing service and a
// missing formId get clear errors.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestHost, type TestHost, type TestInstallation } from 'plughost/sdk/testing';

const pluginDir = path.join(import.meta.dirname, '..');
let t: TestHost;
let app: TestInstallation;

before(async () => {
  t = await createTestHost({ stubs: ['api.example.com'] });
  app = await t.install(pluginDir);
});
after(async () => {
  await t.close();
});

test('summarises the records of a folder and posts the summary', async () => {
  const form = await t.forms.create('To do');
  const [first, second] = await t.records.create(form.id, ['Write the docs', 'Ship it']);
  const done = await t.forms.createFolder(form.id, 'Done');
  await t.records.create(form.id, { name: 'Already shipped', folder: { id: done.id } });

  const res = await app.call('summary', { query: { formId: form.id } });
  assert.equal(res.status, 200, res.text);
  const expected = { scheduled: null, count: 2, lines: [`${first.id} - Write the docs`, `${second.id} - Ship it`] };
  assert.deepEqual(res.body, expected);

  const [posted] = await t.stub('api.example.com').waitFor(1);
  assert.equal(posted!.method, 'POST');
  assert.equal(posted!.path, '/notify');
  assert.deepEqual(posted!.body, expected);
  assert.match((await t.run(res.runId!)).log, /posting a summary of 2 record\(s\)/);
});

test('a scheduled webhook POST adds its time', async () => {
  const [form] = await t.forms.list();
  const res = await app.call('summary', {
    query: { formId: form!.id },
    body: { data: { scheduled: '2026-01-05 06:00:00', nextScheduled: '2026-01-06 06:00:00' }, scheduled: { id: 1 } },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.scheduled, '2026-01-05 06:00:00');
});

test('a failing service is a 502 with the reason', async () => {
  t.stub('api.example.com', () => ({ status: 503, body: 'down' }));
  const [form] = await t.forms.list();
  const res = await app.call('summary', { query: { formId: form!.id } });
  assert.equal(res.status, 502);
  assert.deepEqual(res.body, { error: 'HTTP 503' });
});

test('without formId: 400', async () => {
  const res = await app.call('summary');
  assert.equal(res.status, 400);
  assert.match(res.body.error, /formId/);
});
