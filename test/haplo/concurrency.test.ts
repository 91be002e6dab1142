// Sends racing on one queue (SPEC §6): two admin sends of the same group at once, with the
// stand-in holding its first answer until the other send has run, deliver every message
// exactly once across all requests the stand-in received; a message added while a send is in
// flight goes out once with a later send; a batch whose POST fails goes back to the queue and
// is delivered once by the next send.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type RecordedRequest, type StubServer } from '../helpers/stub-server.ts';
import { ADD_ROUTE, addThroughRoute, createWorkspace, install, publishPlugin, queueOf } from './fixtures/haplo.ts';

const WS = 'hrace';
let h: TestHost;
let stub: StubServer;

before(async () => {
  stub = await startStub();
  h = await startHost({ egressMap: { 'race.example.com': stub.url } });
  await createWorkspace(h, WS);
  await publishPlugin(h, {
    name: 'hrace-queue', namespace: 'racer', hosts: ['race.example.com'], routes: { add: ADD_ROUTE }, main: `
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "race", method: "send", title: "Race", description: "sent by racing sends" });
});
P.implementService("haplo:integration-message:setup-http-request:race", function (http, messages) {
  http.url("https://race.example.com/in");
});`,
  });
  await install(h, WS, 'hrace-queue');
});
after(async () => {
  await h.close();
  await stub.close();
});

/** The stand-in holds its first answer until `release()`; later requests are answered at once. */
function holdFirst(status = 200) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let seen = 0;
  stub.respond = (_req: RecordedRequest, res: http.ServerResponse) => {
    const answer = (code: number) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end('{}'); };
    if (++seen === 1) void gate.then(() => answer(status));
    else answer(200);
  };
  return release;
}

const idsIn = (reqs: RecordedRequest[]) => reqs.flatMap((r) => (JSON.parse(r.body) as { messages: Array<{ id: number }> }).messages.map((m) => m.id));
const send = () => h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/race/send`);
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);

test('two sends at once deliver each message exactly once', async () => {
  const from = stub.requests.length;
  const ids = await addThroughRoute(h, WS, 'racer', 'race', 'r', 10);
  const release = holdFirst();
  const a = send();
  const b = send();
  // Both sends have run past their claim once the stand-in has a second request or one send
  // has answered (the held one cannot answer before the release). No sleeping.
  void Promise.race([stub.waitForRequests(from + 2), a, b]).then(release);
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.status, 200, JSON.stringify(ra.body));
  assert.equal(rb.status, 200, JSON.stringify(rb.body));
  assert.equal(ra.body.sent + rb.body.sent, 10);

  const received = idsIn(stub.requests.slice(from));
  assert.deepEqual(sorted(received), sorted(ids), `each id once across ${stub.requests.length - from} request(s): ${received}`);
  const q = await queueOf(h, WS, 'race');
  assert.deepEqual([q.unsent, q.sent], [0, 10]);
});

test('a message added while a send is in flight goes out once, with the later send', async () => {
  const from = stub.requests.length;
  const first = await addThroughRoute(h, WS, 'racer', 'race', 'early', 4);
  const release = holdFirst();
  const a = send();
  await stub.waitForRequests(from + 1); // the first send holds its batch at the stand-in
  const late = await addThroughRoute(h, WS, 'racer', 'race', 'late', 3);
  const b = await send();
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.deepEqual(b.body, { sent: 3 }, 'the second send takes only what the first did not hold');
  release();
  const ra = await a;
  assert.equal(ra.status, 200, JSON.stringify(ra.body));
  assert.deepEqual(ra.body, { sent: 4 });
  const reqs = stub.requests.slice(from);
  assert.equal(reqs.length, 2);
  assert.deepEqual(idsIn([reqs[0]!]), first);
  assert.deepEqual(idsIn([reqs[1]!]), late);
  const q = await queueOf(h, WS, 'race');
  assert.deepEqual([q.unsent, q.sent], [0, 17]);
});

test('a send whose POST fails while another runs puts its batch back; the next send delivers it once', async () => {
  const from = stub.requests.length;
  const first = await addThroughRoute(h, WS, 'racer', 'race', 'fails', 2);
  const release = holdFirst(503);
  const a = send();
  await stub.waitForRequests(from + 1);
  const more = await addThroughRoute(h, WS, 'racer', 'race', 'ok', 2);
  const b = await send();
  assert.deepEqual(b.body, { sent: 2 });
  release();
  const ra = await a;
  assert.equal(ra.status, 502, JSON.stringify(ra.body));
  assert.equal(ra.body.error.code, 'SEND_FAILED');
  assert.equal((await queueOf(h, WS, 'race')).unsent, 2);

  const c = await send();
  assert.deepEqual(c.body, { sent: 2 });
  const reqs = stub.requests.slice(from);
  assert.equal(reqs.length, 3);
  assert.deepEqual(idsIn([reqs[1]!]), more);
  assert.deepEqual(idsIn([reqs[2]!]), first, 'the failed batch, delivered once by the next send');
  const q = await queueOf(h, WS, 'race');
  assert.deepEqual([q.unsent, q.sent], [0, 21]);
});

test('many sends at once, with adds between them, still deliver each message exactly once', async () => {
  const from = stub.requests.length;
  const ids = await addThroughRoute(h, WS, 'racer', 'race', 'm', 30);
  const release = holdFirst();
  const sends: Array<Promise<{ status: number; body: any }>> = [];
  for (let i = 0; i < 5; i++) {
    sends.push(send());
    ids.push(...await addThroughRoute(h, WS, 'racer', 'race', `m${i}`, 2));
  }
  // Every send but the held one answers on its own; then release the held one.
  let answered = 0;
  for (const s of sends) void s.then(() => { if (++answered === sends.length - 1) release(); });
  const results = await Promise.all(sends);
  for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
  const rest = await send(); // whatever was added after the last send started
  const total = results.reduce((n, r) => n + r.body.sent, 0) + rest.body.sent;
  assert.equal(total, ids.length);
  assert.deepEqual(sorted(idsIn(stub.requests.slice(from))), sorted(ids));
  assert.equal((await queueOf(h, WS, 'race')).unsent, 0);
});
