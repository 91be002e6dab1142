// After a synchronous O.service call that re-enters the calling plugin's own isolate (here
// `haplo:integration-message:send`, which calls the plugin's own setup-http-request), the
// plugin's code carries on as the same run: its console lines land in the run's log and its
// $db calls work. (Found through the haplo template's daily hook.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestHost, type TestHost, type TestInstallation } from '../../sdk/testing.ts';

let t: TestHost;
let app: TestInstallation;

before(async () => {
  t = await createTestHost({ start: '2026-01-05T00:00:00Z', stubs: ['api.example.com'] });
  app = await t.install({
    'plugin.json': {
      name: 'sdk-reentrant', version: '1.0.0', namespace: 're', main: 'main.js', services: [{ route: 'go', main: 'main.js' }],
      permissions: { hosts: ['api.example.com'] }, limits: { timeoutMs: 3000 },
    },
    'main.js': `
P.implementService('haplo:integration-message:setup-http-request:g', function (http) { http.url('https://api.example.com/in'); });
P.hook('hScheduleDailyEarly', function () {
  console.log('hook before');
  O.service('haplo:integration-message:add', { group: 'g', data: { from: 'hook' } });
  var result = O.service('haplo:integration-message:send', { group: 'g' });
  console.log('hook after ' + JSON.stringify(result));
});
exports.run = function (e) {
  O.service('haplo:integration-message:add', { group: 'g', data: { from: 'route' } });
  var result = O.service('haplo:integration-message:send', { group: 'g' });
  console.log('route after ' + JSON.stringify(result));
  return $db.set('k', { v: 1 }).then(function () {
    e.response.json({ result: result, db: 'ok' });
  }, function (err) {
    e.response.status(500).json({ db: err });
  });
};`,
  });
});
after(async () => {
  await t.close();
});

test('a route keeps its log and its $db after O.service re-entered its isolate', async () => {
  const res = await app.call('go');
  assert.equal((await t.stub('api.example.com').waitFor(1)).length, 1);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { result: { sent: 1 }, db: 'ok' });
  assert.match((await t.run(res.runId!)).log, /route after \{"sent":1\}/);
});

test('a hook keeps its log after O.service re-entered its isolate', async () => {
  await t.setTime('2026-01-05T06:00:00Z');
  const [hook] = await t.runs({ kind: 'hook' });
  assert.equal(hook!.status, 'succeeded');
  const log = (await t.run(hook!.id)).log;
  assert.match(log, /hook before/);
  assert.match(log, /hook after \{"sent":1\}/);
});
