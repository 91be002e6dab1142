import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '/work/main/test/helpers/host.ts';
import { startStub, type StubServer } from '/work/main/test/helpers/stub-server.ts';
import { createWorkspace, install, publishPlugin } from '/work/main/test/haplo/fixtures/haplo.ts';
let h: TestHost; let stub: StubServer;
before(async () => {
  stub = await startStub();
  h = await startHost({ egressMap: { 'dl.example.com': stub.url } });
  await createWorkspace(h, 'dl');
  await publishPlugin(h, { name: 'dl-a', namespace: 'a', main: `
P.implementService('t:kick', function () { return O.service('haplo:integration-message:send', { group: 'dl' }); });` });
  await publishPlugin(h, { name: 'dl-b', namespace: 'b', hosts: ['dl.example.com'], timeoutMs: 3000, routes: { go: `
exports.run = function (e) {
  O.service('haplo:integration-message:add', { group: 'dl', data: { x: 1 } });
  try { e.response.json({ value: O.service('t:kick') }); } catch (err) { e.response.status(500).json({ code: err.code, message: err.message }); }
};` }, main: `
P.implementService('haplo:integration-message:write-messages:dl', function (messages, token) { return O.binaryData('batch ' + messages.length, { mimeType: 'text/plain' }); });
P.implementService('haplo:integration-message:setup-http-request:dl', function (http) { http.url('https://dl.example.com/x'); });` });
  await install(h, 'dl', 'dl-a'); await install(h, 'dl', 'dl-b');
});
after(async () => { const t = performance.now(); await h.close(); console.log('close took', Math.round(performance.now() - t)); await stub.close(); });
test('probe', async () => {
  const t = performance.now();
  const res = await fetch(`${h.url}/workspaces/dl/b/go`);
  const q = await h.api('GET', '/api/v1/workspaces/dl/integration-messages'); console.log(JSON.stringify(q.body), Math.round(performance.now() - t)); console.log(res.status, await res.text(), Math.round(performance.now() - t), 'ms', stub.requests.length);
});
