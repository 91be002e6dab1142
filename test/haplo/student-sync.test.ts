// Haplo services and integration messages, end to end through two plugins in one workspace.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const clock = createVirtualClock(Date.parse('2026-05-04T00:00:00Z'));
let h: TestHost;
let sis: StubServer;

before(async () => {
  sis = await startStub();
  h = await startHost({ clock, egressMap: { 'sis.example.com': sis.url } });
  await h.api('POST', '/api/v1/workspaces', { id: 'uni', name: 'University', timezone: 'Europe/London' });
  const integration = await h.publish({
    'plugin.json': { name: 'student-sync', version: '1.0.0', namespace: 'sync', main: 'main.js', permissions: { hosts: ['sis.example.com'] } },
    'main.js': `
P.implementService("haplo:integration-message:discover", function(discover) {
    discover({
        group: "student",
        method: "send",
        title: "Student Records System update messages",
        description: "Send messages to student records system in response to events"
    });
});
P.implementService("haplo:integration-message:write-messages:student", function (messages, token) {
  return O.binaryData(messages.map(function (m) { return m.id + ':' + m.data.name; }).join('\\n'), { mimeType: 'text/plain', filename: 'batch.txt' });
});
P.implementService("haplo:integration-message:setup-http-request:student", function (http, messages) {
  http.url('https://sis.example.com/import').method('PUT').header('X-Count', String(messages.length));
});
P.hook('hScheduleDailyEarly', function (response) {
  O.service("haplo:integration-message:send", { group: "student" });
});
P.implementService("demo:greeting", function (name) { return undefined; });
`,
  });
  assert.equal(integration.status, 201, JSON.stringify(integration.body));
  const producer = await h.publish({
    'plugin.json': { name: 'student-events', version: '1.0.0', namespace: 'events', services: [{ route: 'enrol', main: 'plugin.js' }] },
    'plugin.js': `
P.implementService("demo:greeting", function (name) { return "hello " + name; });
exports.run = function (e) {
  var id = O.service("haplo:integration-message:add", { group: "student", data: { name: e.request.query.name } });
  e.response.json({ id: id, greeting: O.service("demo:greeting", "x"), implemented: O.serviceImplemented("demo:nothing"), maybe: O.serviceMaybe("demo:nothing") === undefined });
};`,
  });
  assert.equal(producer.status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/uni/installations', { plugin: 'student-sync' })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/uni/installations', { plugin: 'student-events' })).status, 201);
});
after(async () => { await h.close(); await sis.close(); });

test('messages are added across installations and sent at 06:00 by the hook', async () => {
  for (const name of ['ada', 'bob']) {
    const res = await fetch(`${h.url}/workspaces/uni/events/enrol?name=${name}`);
    const body = await res.json() as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.greeting, 'hello x');
    assert.equal(body.implemented, false);
    assert.equal(body.maybe, true);
  }
  const queues = await h.api('GET', '/api/v1/workspaces/uni/integration-messages');
  assert.equal(queues.body.data[0].group, 'student');
  assert.equal(queues.body.data[0].unsent, 2);
  assert.equal(queues.body.data[0].title, 'Student Records System update messages');

  const finished = h.host.events.waitFor('occurrence:finished');
  await clock.set(Date.parse('2026-05-04T05:00:00Z')); // 06:00 BST
  const [info] = await finished;
  assert.equal(info.status, 'succeeded');
  const [req] = await sis.waitForRequests(1);
  assert.equal(req!.method, 'PUT');
  assert.equal(req!.headers['x-count'], '2');
  assert.match(req!.body, /^\d+:ada\n\d+:bob$/);
  const after = await h.api('GET', '/api/v1/workspaces/uni/integration-messages');
  assert.equal(after.body.data[0].unsent, 0);
  assert.equal(after.body.data[0].sent, 2);
});
