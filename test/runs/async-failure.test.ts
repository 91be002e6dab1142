// A Freshworks handler that returns while work it started is still open, and whose promise
// chain then fails, has failed: the run says so (it used to be recorded `succeeded` with an
// `unhandled rejection` line in its log). A handler whose chain succeeds stays `succeeded`,
// and a route that already answered keeps its answer (test/hostile/unhandled-rejection).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';

let h: TestHost;
let inst: string;

const server = `
exports = {
  onScheduledEvent: function (payload) {
    var mode = payload.data.mode;
    $db.set('seen', { at: payload.timestamp }).then(function () {
      if (mode === 'fail') throw new Error('the chain broke after the handler returned');
      console.log('chain done');
    });
  },
};
`;

before(async () => {
  h = await startHost();
  const pub = await h.publish({
    'plugin.json': {
      name: 'late-failure', version: '1.0.0', namespace: 'late', main: 'server.js',
      services: [{ route: 'x', main: 'server.js', access: 'public' }],
      events: { onScheduledEvent: { handler: 'onScheduledEvent' } }, limits: { timeoutMs: 2000 },
    },
    'server.js': server + 'exports.run = function (e) { e.response.json({}); };\n',
  });
  assert.equal(pub.status, 201, JSON.stringify(pub.body));
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'fw', name: 'fw' })).status, 201);
  const i = await h.api('POST', '/api/v1/workspaces/fw/installations', { plugin: 'late-failure' });
  assert.equal(i.status, 201, JSON.stringify(i.body));
  inst = i.body.id;
});
after(async () => {
  await h.close();
});

const fire = (mode: string) => h.api('POST', `/api/v1/workspaces/fw/installations/${inst}/events/onScheduledEvent`, { data: { mode } });

test('a promise chain that fails after the handler returned fails the run', async () => {
  const res = await fire('fail');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.run.status, 'failed', res.body.run.log);
  assert.equal(res.body.run.error.code, 'PLUGIN_ERROR');
  assert.match(res.body.run.error.message, /unhandled rejection after the handler returned: .*the chain broke/);
});

test('a chain that completes leaves the run succeeded, and the isolate serves on', async () => {
  const res = await fire('ok');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.run.status, 'succeeded', res.body.run.log);
  assert.match(res.body.run.log, /chain done/);
});
