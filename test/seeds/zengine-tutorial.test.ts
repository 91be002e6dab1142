// Seed 000: the Zengine tutorial's plugin.js, unchanged, fetches the workspace's records
// through zn-http and posts the digest to the chat service (a local stand-in reached through
// --egress-map), then answers 200 with the message.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const example = path.join(import.meta.dirname, '../../examples/todo-digest');
let h: TestHost;
let chat: StubServer;

before(async () => {
  chat = await startStub();
  h = await startHost({ egressMap: { 'api.hipchat.com': chat.url } });
});
after(async () => {
  await h.close();
  await chat.close();
});

test('the tutorial plugin posts the digest and answers with it', async () => {
  const pluginJs = fs.readFileSync(path.join(example, 'plugin.js'), 'utf8');
  const published = await h.publish({
    'plugin.json': fs.readFileSync(path.join(example, 'plugin.json'), 'utf8'),
    'plugin.js': pluginJs,
    'lib/zn-http.js': fs.readFileSync(path.join(example, 'lib/zn-http.js'), 'utf8'),
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));

  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'acme', name: 'Acme' })).status, 201);
  const form = await h.api('POST', '/api/v1/workspaces/acme/forms', { name: 'To do' });
  assert.equal(form.status, 201);
  const formId = form.body.data.id;
  for (const name of ['Frontend Interface', 'Backend API', 'Documentation']) {
    assert.equal((await h.api('POST', `/api/v1/workspaces/acme/forms/${formId}/records`, { name })).status, 201);
  }
  const done = await h.api('POST', `/api/v1/workspaces/acme/forms/${formId}/folders`, { name: 'Done' });
  await h.api('POST', `/api/v1/workspaces/acme/forms/${formId}/records`, { name: 'Shipped already', folder: { id: done.body.data.id } });
  const records = await h.api('GET', `/api/v1/workspaces/acme/forms/${formId}/records?folder.id=0`);
  const ids = records.body.data.map((r: { id: number }) => r.id);
  assert.equal(ids.length, 3);

  const install = await h.api('POST', '/api/v1/workspaces/acme/installations', { plugin: 'todo-digest' });
  assert.equal(install.status, 201, JSON.stringify(install.body));
  assert.equal(install.body.namespace, 'todo');

  const body = { data: { scheduled: '2015-09-23 21:00:00', nextScheduled: '2015-09-24 21:00:00' }, scheduled: { id: 7 } };
  const res = await fetch(`${h.url}/workspaces/acme/todo/digest?formId=${formId}&folderId=0&hipchatRoom=42&hipchatToken=secret-token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  const expected = [
    'Scheduled @ 2015-09-23 21:00:00',
    `${ids[0]} - Frontend Interface`, `${ids[1]} - Backend API`, `${ids[2]} - Documentation`,
    'Next Scheduled @ 2015-09-24 21:00:00',
  ].join('\n');
  assert.equal(res.status, 200, text);
  assert.equal(text, expected);

  const [posted] = await chat.waitForRequests(1);
  assert.equal(posted!.method, 'POST');
  assert.equal(posted!.url, '/v2/room/42/message?auth_token=secret-token');
  assert.deepEqual(JSON.parse(posted!.body), { message: expected });

  const runs = await h.api('GET', '/api/v1/workspaces/acme/runs?kind=route');
  assert.equal(runs.body.data[0].status, 'succeeded');
  assert.equal(runs.body.data[0].httpStatus, 200);
});

test('a GET gets the tutorial\'s 404 "Not found"', async () => {
  const res = await fetch(`${h.url}/workspaces/acme/todo/digest`);
  assert.equal(res.status, 404);
  assert.equal(await res.text(), 'Not found');
});
