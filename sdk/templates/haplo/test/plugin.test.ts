// haplo-starter: messages added on the route wait in the discovered queue until 06:00, when
// the hScheduleDailyEarly hook sends them, formatted as CSV, to api.example.com (a local
// stand-in); only then are they marked sent.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestHost, type TestHost, type TestInstallation } from 'plughost/sdk/testing';

const pluginDir = path.join(import.meta.dirname, '..');
const group = 'haplo-starter';
let t: TestHost;
let app: TestInstallation;

before(async () => {
  t = await createTestHost({ start: '2026-01-05T00:00:00Z', stubs: ['api.example.com'] });
  app = await t.install(pluginDir);
});
after(async () => {
  await t.close();
});

test('messages wait in the queue until the 06:00 hook sends them as CSV', async () => {
  for (const text of ['first', 'second']) {
    const res = await app.call('add', { body: { text } });
    assert.equal(res.status, 201, res.text);
    assert.equal(typeof res.body.id, 'number');
  }
  const queued = await t.messages(group);
  assert.equal(queued.queue?.method, 'send');
  assert.equal(queued.queue?.unsent, 2);

  await t.setTime('2026-01-05T05:59:00Z');
  const api = t.stub('api.example.com');
  assert.equal(api.requests.length, 0);

  await t.setTime('2026-01-05T06:00:00Z');
  const [req] = await api.waitFor(1);
  assert.equal(req!.path, '/messages');
  assert.equal(req!.headers['content-type'], 'text/csv');
  assert.equal(req!.headers['x-message-count'], '2');
  const [m1, m2] = queued.messages;
  assert.equal(req!.text, `id,datetime,text\n${m1!.id},${m1!.createdAt},"first"\n${m2!.id},${m2!.createdAt},"second"`);

  const sent = await t.messages(group);
  assert.equal(sent.queue?.unsent, 0);
  assert.equal(sent.queue?.sent, 2);
  const [hook] = await t.runs({ kind: 'hook' });
  assert.equal(hook!.status, 'succeeded');
  const log = (await t.run(hook!.id)).log;
  assert.match(log, /daily send 2026-1-5/);
  assert.match(log, /sent 2 message\(s\) of haplo-starter → 200/);
});

test('a message without text is refused', async () => {
  const res = await app.call('add', { body: {} });
  assert.equal(res.status, 400);
});
