// The integration-message admin API (SPEC §6, §7): queues listed with unsent and sent counts
// and discover's title/description; messages listed with a status filter and pagination;
// adding by hand (201 {id}); marking a sent message unsent (the next send delivers it again);
// every manual act (send, add, mark-unsent, create key) in the audit log with its actor; a
// token of another workspace gets 403; a bad group name 400.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { ADD_ROUTE, addThroughRoute, createWorkspace, install, publishPlugin, queueOf, workspaceToken } from './fixtures/haplo.ts';

const WS = 'hadm';
const BASE = `/api/v1/workspaces/${WS}/integration-messages`;
let h: TestHost;
let stub: StubServer;
let wsToken: string;
let otherToken: string;
let installationId: string;

before(async () => {
  stub = await startStub();
  h = await startHost({ egressMap: { 'grades.example.com': stub.url } });
  await createWorkspace(h, WS);
  await createWorkspace(h, 'hadm-other');
  await publishPlugin(h, {
    name: 'hadm-grades', namespace: 'grades', hosts: ['grades.example.com'], routes: { add: ADD_ROUTE }, main: `
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "grades", method: "send", title: "Grades export", description: "Final grades to the registry" });
  discover({ group: "enrolments", method: "poll", title: "Enrolments", description: "Polled by the library system" });
});
P.implementService("haplo:integration-message:setup-http-request:grades", function (http) {
  http.url("https://grades.example.com/upload");
});`,
  });
  installationId = await install(h, WS, 'hadm-grades');
  wsToken = await workspaceToken(h, WS);
  otherToken = await workspaceToken(h, 'hadm-other');
});
after(async () => {
  await h.close();
  await stub.close();
});

const idsOf = (res: { body: any }) => (res.body.data as Array<{ id: number }>).map((m) => m.id);

test('queues are listed with unsent and sent counts and discover\'s title and description', async () => {
  await addThroughRoute(h, WS, 'grades', 'grades', 'g', 3);
  const res = await h.api('GET', BASE);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.sendingEnabled, true);
  const byGroup = Object.fromEntries((res.body.data as Array<Record<string, any>>).map((q) => [q.group, q]));
  assert.deepEqual(Object.keys(byGroup).sort(), ['enrolments', 'grades']);
  assert.deepEqual(byGroup.grades, {
    group: 'grades', method: 'send', title: 'Grades export', description: 'Final grades to the registry', installationId,
    unsent: 3, sent: 0, lastError: null, lastErrorAt: null, lastSentAt: null,
  });
  assert.equal(byGroup.enrolments.method, 'poll');
  assert.equal(byGroup.enrolments.title, 'Enrolments');
  assert.equal(byGroup.enrolments.description, 'Polled by the library system');
  assert.deepEqual([byGroup.enrolments.unsent, byGroup.enrolments.sent], [0, 0]);

  // A workspace token of this workspace sees the same.
  const own = await h.api('GET', BASE, undefined, wsToken);
  assert.equal(own.status, 200);
  assert.deepEqual(own.body, res.body);
});

test('adding by hand answers 201 {id}; bad bodies are 400', async () => {
  const res = await h.api('POST', `${BASE}/grades/messages`, { data: { student: 'ann', grade: 'A' } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body), ['id']);
  assert.equal(typeof res.body.id, 'number');
  const listed = await h.api('GET', `${BASE}/grades/messages?limit=1`);
  assert.equal(listed.body.data[0].id, res.body.id, 'newest first');
  assert.deepEqual(listed.body.data[0].data, { student: 'ann', grade: 'A' });
  assert.equal(listed.body.data[0].status, 'unsent');
  assert.equal(listed.body.data[0].group, 'grades');

  for (const body of [{ data: 'text' }, { data: [1, 2] }, {}, { data: {}, extra: 1 }]) {
    const bad = await h.api('POST', `${BASE}/grades/messages`, body);
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.equal(bad.body.error.code, 'INVALID_BODY');
  }
  const notJson = await h.api('POST', `${BASE}/grades/messages`, '{"data":');
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body.error.code, 'INVALID_JSON');
  assert.equal((await queueOf(h, WS, 'grades')).unsent, 4);
});

test('messages are listed newest first, filtered by status, page by page', async () => {
  const all = await h.api('GET', `${BASE}/grades/messages`);
  assert.equal(all.status, 200);
  const ids = idsOf(all);
  assert.equal(ids.length, 4);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
  assert.equal(all.body.nextCursor, null);

  // Pages of 3 then 1.
  const p1 = await h.api('GET', `${BASE}/grades/messages?limit=3`);
  assert.deepEqual(idsOf(p1), ids.slice(0, 3));
  assert.equal(typeof p1.body.nextCursor, 'string');
  const p2 = await h.api('GET', `${BASE}/grades/messages?limit=3&cursor=${p1.body.nextCursor}`);
  assert.deepEqual(idsOf(p2), ids.slice(3));
  assert.equal(p2.body.nextCursor, null);

  // Send them all, then add one: the status filter splits them.
  assert.deepEqual((await h.api('POST', `${BASE}/grades/send`)).body, { sent: 4 });
  const extra = await h.api('POST', `${BASE}/grades/messages`, { data: { student: 'zed' } });
  const sent = await h.api('GET', `${BASE}/grades/messages?status=sent`);
  assert.deepEqual(idsOf(sent), ids);
  assert.ok((sent.body.data as Array<{ sentAt: string | null }>).every((m) => typeof m.sentAt === 'string'));
  const unsent = await h.api('GET', `${BASE}/grades/messages?status=unsent`);
  assert.deepEqual(idsOf(unsent), [extra.body.id]);
  assert.equal(unsent.body.data[0].sentAt, null);
  const sentPage = await h.api('GET', `${BASE}/grades/messages?status=sent&limit=2`);
  assert.deepEqual(idsOf(sentPage), ids.slice(0, 2));
  const sentPage2 = await h.api('GET', `${BASE}/grades/messages?status=sent&limit=2&cursor=${sentPage.body.nextCursor}`);
  assert.deepEqual(idsOf(sentPage2), ids.slice(2, 4));

  for (const q of ['status=lost', 'limit=0', 'limit=201', 'limit=x', 'cursor=abc']) {
    const bad = await h.api('GET', `${BASE}/grades/messages?${q}`);
    assert.equal(bad.status, 400, q);
    assert.equal(bad.body.error.code, 'INVALID_QUERY', q);
  }
  // Clear the extra one for the next test.
  assert.deepEqual((await h.api('POST', `${BASE}/grades/send`)).body, { sent: 1 });
});

test('marking a sent message unsent makes the next send deliver it again', async () => {
  const sent = await h.api('GET', `${BASE}/grades/messages?status=sent&limit=1`);
  const id = sent.body.data[0].id as number;
  const before = stub.requests.length;
  const res = await h.api('POST', `${BASE}/grades/messages/${id}/unsent`, undefined, wsToken);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { id, status: 'unsent' });
  const q = await queueOf(h, WS, 'grades');
  assert.equal(q.unsent, 1);
  const again = await h.api('POST', `${BASE}/grades/send`, undefined, wsToken);
  assert.deepEqual(again.body, { sent: 1 });
  assert.equal(stub.requests.length, before + 1);
  const body = JSON.parse(stub.requests.at(-1)!.body) as { messages: Array<{ id: number }> };
  assert.deepEqual(body.messages.map((m) => m.id), [id]);

  for (const bad of ['999999', 'abc']) {
    const missing = await h.api('POST', `${BASE}/grades/messages/${bad}/unsent`);
    assert.equal(missing.status, 404, bad);
    assert.equal(missing.body.error.code, 'QUEUE_NOT_FOUND');
  }
  // A message of another queue is not found through this one.
  const missing = await h.api('POST', `${BASE}/enrolments/messages/${id}/unsent`);
  assert.equal(missing.status, 404);
});

test('a poll key is made with 201 {key}', async () => {
  const res = await h.api('POST', `${BASE}/enrolments/keys`, undefined, wsToken);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(typeof res.body.key, 'string');
  assert.equal(res.body.pollUrl, `/workspaces/${WS}/api/haplo-integration-messages/poll/enrolments/fetch`);
});

test('every manual act is in the audit log with its actor; plugin adds are not', async () => {
  const res = await h.api('GET', `${BASE}/audit`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const entries = (res.body.data as Array<{ actor: string; action: string; detail: Record<string, unknown>; at: string }>).slice().reverse(); // oldest first
  const acts = entries.map((e) => [e.actor.split(':')[0], e.action, e.detail.group]);
  assert.deepEqual(acts, [
    ['operator', 'create-token', undefined], // the workspace token, in before()
    ['operator', 'add', 'grades'], // by hand, in the add test
    ['operator', 'send', 'grades'],
    ['operator', 'add', 'grades'],
    ['operator', 'send', 'grades'],
    ['workspace', 'mark-unsent', 'grades'],
    ['workspace', 'send', 'grades'],
    ['workspace', 'create-poll-key', 'enrolments'],
  ]);
  assert.ok(entries.every((e) => /^(operator|workspace):tok_/.test(e.actor) && !Number.isNaN(Date.parse(e.at))), JSON.stringify(entries));
  // The operator and the workspace token are different actors.
  assert.notEqual(entries[1]!.actor, entries[5]!.actor);
  assert.equal(typeof entries[1]!.detail.id, 'number');
  assert.equal(typeof entries[5]!.detail.id, 'number');
  // The audit log names neither keys nor tokens.
  assert.ok(!JSON.stringify(entries).includes(wsToken));
  // The workspace token reads it too.
  assert.equal((await h.api('GET', `${BASE}/audit`, undefined, wsToken)).status, 200);
});

test('a workspace token of another workspace gets 403 everywhere; no token 401', async () => {
  const calls: Array<[string, string, unknown?]> = [
    ['GET', BASE], ['GET', `${BASE}/audit`], ['GET', `${BASE}/grades/messages`], ['POST', `${BASE}/grades/send`],
    ['POST', `${BASE}/grades/messages`, { data: { x: 1 } }], ['POST', `${BASE}/grades/messages/1/unsent`], ['POST', `${BASE}/grades/keys`],
  ];
  const before = await queueOf(h, WS, 'grades');
  const auditBefore = (await h.api('GET', `${BASE}/audit`)).body.data.length;
  for (const [method, path, body] of calls) {
    const res = await h.api(method, path, body, otherToken);
    assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'FORBIDDEN');
    const anon = await h.api(method, path, body, null);
    assert.equal(anon.status, 401, `${method} ${path}`);
    assert.equal(anon.body.error.code, 'UNAUTHORIZED');
  }
  const after = await queueOf(h, WS, 'grades');
  assert.deepEqual([after.unsent, after.sent], [before.unsent, before.sent]);
  assert.equal((await h.api('GET', `${BASE}/audit`)).body.data.length, auditBefore, 'refused acts did nothing');
  // The clone guard's switch is the operator's alone.
  assert.equal((await h.api('POST', '/api/v1/integration-messages/enable-sending', undefined, wsToken)).status, 403);
  assert.equal((await h.api('GET', '/api/v1/integration-messages/sending', undefined, wsToken)).status, 403);
});

test('a bad group name is 400; an unknown workspace 404', async () => {
  for (const group of ['bad!group', 'a'.repeat(101), 'sp%20ace']) {
    for (const [method, path, body] of [
      ['GET', `${BASE}/${group}/messages`], ['POST', `${BASE}/${group}/send`], ['POST', `${BASE}/${group}/messages`, { data: { x: 1 } }],
      ['POST', `${BASE}/${group}/messages/1/unsent`], ['POST', `${BASE}/${group}/keys`],
    ] as Array<[string, string, unknown?]>) {
      const res = await h.api(method, path, body);
      assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'INVALID_BODY');
      assert.match(res.body.error.message, /group/);
    }
  }
  const unknown = await h.api('GET', '/api/v1/workspaces/nope/integration-messages');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'WORKSPACE_NOT_FOUND');
  const unknownSend = await h.api('POST', '/api/v1/workspaces/nope/integration-messages/grades/send');
  assert.equal(unknownSend.status, 404);
  assert.equal(unknownSend.body.error.code, 'WORKSPACE_NOT_FOUND');
});
