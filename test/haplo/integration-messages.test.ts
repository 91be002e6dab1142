// Acceptance for Haplo integration messages (SPEC §6, seed 002) with plugins written in
// Haplo's style: the seed's discover snippet unchanged, another plugin adding messages from
// its route with O.service("haplo:integration-message:add"), a write-messages:GROUP formatter
// and hScheduleDailyEarly calling O.service("haplo:integration-message:send"). At 06:00 in the
// workspace's timezone (virtual clock) a local stand-in receives the formatted batch; when it
// answers 500 the messages stay unsent with the error recorded, and the retry delivers them.
// Also: Haplo's default JSON body without a formatter (token = base64 of the comma-joined
// ids), the format-http-request:GROUP alias, and a queue nobody sets a request up for.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { ADD_ROUTE, SEED_DISCOVER, addThroughRoute, createWorkspace, install, publishPlugin, queueOf, tokenOf } from './fixtures/haplo.ts';

const WS = 'him-college';
const CHAIN_WS = 'him-chain';
const CHAIN_TIMEOUT_MS = 3000;
const clock = createVirtualClock(Date.parse('2026-05-04T00:00:00Z')); // 20:00 on 3 May in New York
const ok = (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); };
let h: TestHost;
let sis: StubServer;
let partner: StubServer;
let sisInstallation: string;

before(async () => {
  sis = await startStub();
  partner = await startStub();
  h = await startHost({ clock, egressMap: { 'sis.example.com': sis.url, 'partner.example.com': partner.url } });
  await createWorkspace(h, WS, 'America/New_York');

  await publishPlugin(h, {
    name: 'him-sis', namespace: 'sis', hosts: ['sis.example.com'], main: `
${SEED_DISCOVER}

P.implementService("haplo:integration-message:write-messages:student", function (messages, token) {
  var lines = ["token=" + token];
  messages.forEach(function (m) { lines.push([m.id, m.data.name, m.data.i, m.datetime].join(",")); });
  return O.binaryData(lines.join("\\n"), { mimeType: "text/csv", filename: "students.csv" });
});

P.implementService("haplo:integration-message:setup-http-request:student", function (http, messages) {
  http.url("https://sis.example.com/api/import?count=" + messages.length)
      .method("POST")
      .header("X-Batch-Size", String(messages.length))
      .header("Authorization", "Bearer sis-secret");
});

P.hook("hScheduleDailyEarly", function (response, year, month, dayOfMonth, hour, dayOfWeek) {
  console.log("early hook " + [year, month, dayOfMonth, hour].join("/"));
  O.service("haplo:integration-message:send", { group: "student" });
});
`,
  });
  await publishPlugin(h, {
    name: 'him-events', namespace: 'events', main: '', routes: {
      add: ADD_ROUTE,
      bad: `exports.run = function (e) {
  try { O.service("haplo:integration-message:add", { group: "student", data: "just text" }); e.response.json({ added: true }); }
  catch (err) { e.response.status(400).json({ code: err.code, message: err.message }); }
};`,
    },
  });
  await publishPlugin(h, {
    name: 'him-partner', namespace: 'partner', hosts: ['partner.example.com'], main: `
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "plain", method: "send", title: "Plain JSON", description: "no formatter: Haplo's default body" });
  discover({ group: "alias", method: "send", title: "Alias", description: "set up through format-http-request" });
  discover({ group: "orphan", method: "send", title: "Orphan", description: "nobody sets up its request" });
});
P.implementService("haplo:integration-message:setup-http-request:plain", function (http, messages) {
  http.url("https://partner.example.com/plain").header("X-Queue", "plain");
});
P.implementService("haplo:integration-message:format-http-request:alias", function (http, messages) {
  http.url("https://partner.example.com/alias?n=" + messages.length).method("put").header("X-Queue", "alias");
});
`,
  });
  // A send asked for through another plugin's service: B's route → A's t:kick → send → B's formatter.
  await publishPlugin(h, {
    name: 'him-chain-a', namespace: 'chaina', main: `
P.implementService("t:kick", function () { return O.service("haplo:integration-message:send", { group: "chained" }); });`,
  });
  await publishPlugin(h, {
    name: 'him-chain-b', namespace: 'chainb', hosts: ['partner.example.com'], timeoutMs: CHAIN_TIMEOUT_MS, main: `
P.implementService("haplo:integration-message:write-messages:chained", function (messages, token) {
  return O.binaryData("chained " + messages.map(function (m) { return m.id; }).join(","), { mimeType: "text/plain" });
});
P.implementService("haplo:integration-message:setup-http-request:chained", function (http) {
  http.url("https://partner.example.com/chained");
});`,
    routes: {
      go: `exports.run = function (e) {
  O.service("haplo:integration-message:add", { group: "chained", data: { n: 1 } });
  try { e.response.json({ value: O.service("t:kick") }); }
  catch (err) { e.response.status(500).json({ code: err.code, message: err.message }); }
};`,
    },
  });
  await createWorkspace(h, CHAIN_WS);
  await install(h, CHAIN_WS, 'him-chain-a');
  await install(h, CHAIN_WS, 'him-chain-b');

  sisInstallation = await install(h, WS, 'him-sis');
  await install(h, WS, 'him-events');
  await install(h, WS, 'him-partner');
});
after(async () => {
  await h.close();
  await sis.close();
  await partner.close();
});

test('the seed\'s discover snippet, unchanged, puts its queue in the admin API', async () => {
  const seed = path.join(import.meta.dirname, '../../../shared/seeds/002_db7f537d01dd12e2.txt');
  if (fs.existsSync(seed)) assert.ok(fs.readFileSync(seed, 'utf8').includes(SEED_DISCOVER), 'the fixture is the seed\'s snippet, verbatim');
  const q = await queueOf(h, WS, 'student');
  assert.deepEqual(
    { method: q.method, title: q.title, description: q.description, installationId: q.installationId, unsent: q.unsent, sent: q.sent, lastError: q.lastError },
    { method: 'poll', title: 'Student Records System update messages', description: 'Send messages to student records system in response to events', installationId: sisInstallation, unsent: 0, sent: 0, lastError: null },
  );
  const plain = await queueOf(h, WS, 'plain');
  assert.equal(plain.method, 'send');
  assert.equal(plain.title, 'Plain JSON');
});

test('hScheduleDailyEarly sends the formatted batch at 06:00 local; a 500 keeps them unsent with the error, the retry delivers', async () => {
  const schedules = await h.api('GET', `/api/v1/workspaces/${WS}/schedules`);
  const hook = (schedules.body.data as Array<Record<string, any>>).find((s) => s.kind === 'hook' && s.name === 'hScheduleDailyEarly');
  assert.ok(hook, JSON.stringify(schedules.body));
  assert.equal(hook.installationId, sisInstallation);
  assert.equal(hook.nextRunAt, '2026-05-04T10:00:00.000Z'); // 06:00 EDT
  assert.equal(hook.nextRunAtLocal, '2026-05-04 06:00:00');

  const addedAt = new Date(clock.now()).toISOString();
  const ids = [...await addThroughRoute(h, WS, 'events', 'student', 'ada'), ...await addThroughRoute(h, WS, 'events', 'student', 'bob')];
  assert.equal((await queueOf(h, WS, 'student')).unsent, 2);
  const expectedBody = ['token=' + tokenOf(ids), `${ids[0]},ada,0,${addedAt}`, `${ids[1]},bob,0,${addedAt}`].join('\n');

  // 06:00 in New York: the stand-in answers 500.
  sis.respond = (_req, res) => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('database is down'); };
  const failed = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === hook.id);
  await clock.set(Date.parse('2026-05-04T10:00:00Z'));
  const [first] = await failed;
  assert.equal(first.attempt, 1);
  assert.equal(first.status, 'pending', 'a failed hook waits for its retry');
  assert.equal(sis.requests.length, 1);
  const [req] = sis.requests;
  assert.equal(req!.method, 'POST');
  assert.equal(req!.url, '/api/import?count=2');
  assert.equal(req!.headers['x-batch-size'], '2');
  assert.equal(req!.headers.authorization, 'Bearer sis-secret');
  assert.equal(req!.headers['content-type'], 'text/csv');
  assert.equal(req!.body, expectedBody);

  const afterFailure = await queueOf(h, WS, 'student');
  assert.equal(afterFailure.unsent, 2);
  assert.equal(afterFailure.sent, 0);
  assert.match(afterFailure.lastError, /500/);
  assert.equal(afterFailure.lastErrorAt, '2026-05-04T10:00:00.000Z');
  assert.equal(afterFailure.lastSentAt, null);
  const listed = await h.api('GET', `/api/v1/workspaces/${WS}/integration-messages/student/messages`);
  assert.deepEqual(listed.body.data.map((m: { id: number; status: string }) => [m.id, m.status]).sort(), ids.map((id) => [id, 'unsent']).sort());
  const run = await h.api('GET', `/api/v1/workspaces/${WS}/runs/${first.runId}`);
  assert.equal(run.body.status, 'failed');
  assert.match(run.body.log, /early hook 2026\/4\/4\/6/); // month is 0-11, as in Haplo
  assert.match(run.body.error.message, /500/);

  // The retry (the next send) delivers the same batch, and then they are sent.
  sis.respond = ok;
  const retried = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === hook.id);
  await clock.advance(h.host.options.schedules.backoffMs);
  const [second] = await retried;
  assert.equal(second.attempt, 2);
  assert.equal(second.status, 'succeeded');
  assert.equal(sis.requests.length, 2);
  assert.equal(sis.requests[1]!.body, expectedBody);
  const afterRetry = await queueOf(h, WS, 'student');
  assert.equal(afterRetry.unsent, 0);
  assert.equal(afterRetry.sent, 2);
  assert.equal(afterRetry.lastError, null);
  assert.equal(afterRetry.lastSentAt, new Date(clock.now()).toISOString());

  // Nothing is left: another send posts nothing.
  const again = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/student/send`);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.deepEqual(again.body, { sent: 0 });
  assert.equal(sis.requests.length, 2);
});

test('without a formatter the body is Haplo\'s default JSON, the token the base64 of the comma-joined ids', async () => {
  const before = partner.requests.length;
  const addedAt = new Date(clock.now()).toISOString();
  const ids = await addThroughRoute(h, WS, 'events', 'plain', 'carol', 2);
  const res = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/plain/send`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { sent: 2 });
  assert.equal(partner.requests.length, before + 1);
  const req = partner.requests.at(-1)!;
  assert.equal(req.method, 'POST', 'POST unless the setup says otherwise');
  assert.equal(req.url, '/plain');
  assert.equal(req.headers['x-queue'], 'plain');
  assert.match(String(req.headers['content-type']), /^application\/json/);
  const token = Buffer.from(ids.join(','), 'utf8').toString('base64');
  assert.deepEqual(JSON.parse(req.body), {
    version: 0, token,
    messages: [
      { id: ids[0], datetime: addedAt, name: 'carol', i: 0 },
      { id: ids[1], datetime: addedAt, name: 'carol', i: 1 },
    ],
  });
  const q = await queueOf(h, WS, 'plain');
  assert.equal(q.unsent, 0);
  assert.equal(q.sent, 2);
});

test('format-http-request:GROUP works like setup-http-request:GROUP', async () => {
  const before = partner.requests.length;
  const ids = await addThroughRoute(h, WS, 'events', 'alias', 'dan', 3);
  const res = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/alias/send`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { sent: 3 });
  const req = partner.requests.at(-1)!;
  assert.equal(partner.requests.length, before + 1);
  assert.equal(req.method, 'PUT');
  assert.equal(req.url, '/alias?n=3');
  assert.equal(req.headers['x-queue'], 'alias');
  assert.deepEqual(JSON.parse(req.body).messages.map((m: { id: number }) => m.id), ids);
  assert.equal((await queueOf(h, WS, 'alias')).sent, 3);
});

test('a queue without any setup-http-request implementation fails its send clearly and keeps its messages', async () => {
  const before = partner.requests.length + sis.requests.length;
  const added = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/orphan/messages`, { data: { name: 'eve' } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const res = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/orphan/send`);
  assert.equal(res.status, 502, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'SEND_FAILED');
  assert.match(res.body.error.message, /setup-http-request:orphan/);
  assert.equal(partner.requests.length + sis.requests.length, before, 'nothing was posted anywhere');
  const q = await queueOf(h, WS, 'orphan');
  assert.equal(q.unsent, 1);
  assert.equal(q.sent, 0);
  assert.match(q.lastError, /setup-http-request:orphan/);
  const listed = await h.api('GET', `/api/v1/workspaces/${WS}/integration-messages/orphan/messages`);
  assert.deepEqual(listed.body.data.map((m: { id: number; status: string }) => [m.id, m.status]), [[added.body.id, 'unsent']]);
});

test('add refuses a bad group or non-object data with an error in the calling plugin', async () => {
  const res = await fetch(`${h.url}/workspaces/${WS}/events/add?group=${encodeURIComponent('no spaces allowed')}&name=x`);
  const body = await res.json() as { error: { code: string; message: string } };
  assert.equal(res.status, 500);
  assert.match(body.error.message, /group must be/);
  const bad = await fetch(`${h.url}/workspaces/${WS}/events/bad`);
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { code: 'INVALID_BODY', message: 'data must be an object' });
  assert.equal((await queueOf(h, WS, 'student')).unsent, 0, 'nothing was stored');
});

test('a send asked for through another plugin (B → A\'s service → send → B\'s formatter) answers promptly: delivered, or refused as SERVICE_DEADLOCK', async () => {
  // The host calls back into an installation waiting on it re-entrantly when that installation
  // asked for the send itself (the hook above). Here B waits one step further up the chain;
  // the send must either enter B re-entrantly too and deliver, or refuse at once as the
  // deadlock guard does between plugins; never wait out B's time limit and deliver afterwards.
  const before = partner.requests.length;
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/${CHAIN_WS}/chainb/go`);
  const elapsed = performance.now() - started;
  const body = await res.json() as { value?: unknown; code?: string; message?: string };
  if (body.code === 'SERVICE_DEADLOCK') {
    assert.equal(partner.requests.length, before, 'refused: nothing was posted');
    assert.deepEqual((await h.api('POST', `/api/v1/workspaces/${CHAIN_WS}/integration-messages/chained/send`)).body, { sent: 1 });
  }
  await partner.waitForRequests(before + 1);
  const q = await queueOf(h, CHAIN_WS, 'chained');

  assert.ok(elapsed < CHAIN_TIMEOUT_MS / 2, `answered after ${Math.round(elapsed)} ms (B's limit ${CHAIN_TIMEOUT_MS} ms): ${res.status} ${JSON.stringify(body)}`);
  if (res.status === 200) assert.deepEqual(body, { value: { sent: 1 } });
  else assert.equal(body.code, 'SERVICE_DEADLOCK', JSON.stringify(body));
  const chained = partner.requests.slice(before).filter((r) => r.url === '/chained');
  assert.equal(chained.length, 1, 'delivered exactly once');
  assert.match(chained[0]!.body, /^chained \d+$/);
  assert.deepEqual([q.unsent, q.sent], [0, 1]);
});
