// A failed call says why: when a route answers an error, the start of its body is kept on
// its run's log, and a scheduled webhook that fails on a non-2xx carries that excerpt in its
// error, whether it reached a plugin route in-process or an outside endpoint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

let h: TestHost;
let stub: StubServer;

before(async () => {
  stub = await startStub((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('the ledger is down for maintenance\n' + 'x'.repeat(2000));
  });
  h = await startHost({ egressAllow: ['127.0.0.1'] });
  const pub = await h.publish({
    'plugin.json': { name: 'refuser', version: '1.0.0', namespace: 'ref', services: [{ route: 'no', main: 'plugin.js', access: 'public' }] },
    'plugin.js': 'exports.run = function (e) { e.response.status(422).json({ error: "form 7 has no field due_date" }); };\n',
  });
  assert.equal(pub.status, 201, JSON.stringify(pub.body));
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'eb', name: 'eb' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/eb/installations', { plugin: 'refuser' })).status, 201);
});
after(async () => {
  await h.close();
  await stub.close();
});

test('a route that answers an error keeps the start of its body on the run', async () => {
  const res = await fetch(`${h.url}/workspaces/eb/ref/no`, { method: 'POST' });
  assert.equal(res.status, 422);
  const run = await h.api('GET', `/api/v1/workspaces/eb/runs/${res.headers.get('x-plughost-run')}`);
  assert.equal(run.status, 200);
  assert.equal(run.body.httpStatus, 422);
  assert.match(run.body.log, /answered 422: \{"error":"form 7 has no field due_date"\}/);
});

test('a scheduled webhook into that route fails with the route\'s reason', async () => {
  const created = await h.api('POST', '/api/v1/workspaces/eb/scheduled-webhooks', { url: '/workspaces/eb/ref/no', frequency: 'daily', start: '2099-01-01 09:00', retries: 0 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const ran = await h.api('POST', `/api/v1/workspaces/eb/scheduled-webhooks/${created.body.id}/run`);
  assert.equal(ran.status, 200, JSON.stringify(ran.body));
  assert.equal(ran.body.run.status, 'failed');
  assert.equal(ran.body.run.error.code, 'WEBHOOK_FAILED');
  assert.match(ran.body.run.error.message, /the route answered 422: .*form 7 has no field due_date/);
});

test('an outside endpoint\'s error body is kept, truncated', async () => {
  const created = await h.api('POST', '/api/v1/workspaces/eb/scheduled-webhooks', { url: `${stub.url}/hook`, frequency: 'daily', start: '2099-01-01 09:00', retries: 0 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const ran = await h.api('POST', `/api/v1/workspaces/eb/scheduled-webhooks/${created.body.id}/run`);
  assert.equal(ran.body.run.status, 'failed');
  assert.equal(ran.body.run.httpStatus, 503);
  assert.match(ran.body.run.error.message, /^the endpoint answered 503: the ledger is down for maintenance x+…$/);
  assert.ok(ran.body.run.error.message.length < 600, 'the excerpt is bounded');
});
