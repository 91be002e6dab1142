// Every integration-message send is a run of kind `send`: the batch's message ids in its log,
// the endpoint's status and the start of its answer, the installation that set the request
// up; a failed send is a failed run with the reason, whether the endpoint refused the batch
// or nobody set the request up (a failure before any plugin code ran).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { addThroughRoute, ADD_ROUTE, createWorkspace, install, publishPlugin } from '../haplo/fixtures/haplo.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const WS = 'sends';
let h: TestHost;
let partner: StubServer;
let refuse = false;
let sender: string;

before(async () => {
  partner = await startStub((_req, res) => {
    res.writeHead(refuse ? 409 : 202, { 'content-type': 'application/json' });
    res.end(refuse ? '{"error":"duplicate batch"}' : '{"accepted":true}');
  });
  h = await startHost({ egressMap: { 'partner.example.com': partner.url } });
  await createWorkspace(h, WS);
  await publishPlugin(h, {
    name: 'send-runs', namespace: 'sr', hosts: ['partner.example.com'], routes: { add: ADD_ROUTE }, main: `
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "orders", method: "send", title: "Orders", description: "pushed to the partner" });
  discover({ group: "nowhere", method: "send", title: "Nowhere", description: "no request set up" });
});
P.implementService("haplo:integration-message:setup-http-request:orders", function (http) {
  http.url("https://partner.example.com/orders");
});`,
  });
  sender = await install(h, WS, 'send-runs');
});
after(async () => {
  await h.close();
  await partner.close();
});

const sendRuns = async () => {
  const res = await h.api('GET', `/api/v1/workspaces/${WS}/runs?kind=send`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data as Array<Record<string, any>>;
};
const full = async (id: string) => (await h.api('GET', `/api/v1/workspaces/${WS}/runs/${id}`)).body;

test('a delivered send is a succeeded run with its message ids and the endpoint\'s answer', async () => {
  const ids = await addThroughRoute(h, WS, 'sr', 'orders', 'ann', 2);
  const res = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/orders/send`);
  assert.deepEqual(res.body, { sent: 2 });
  const [run] = await sendRuns();
  assert.ok(run);
  assert.equal(run.status, 'succeeded');
  assert.equal(run.trigger, 'manual');
  assert.equal(run.target, 'send orders');
  assert.equal(run.installationId, sender);
  assert.equal(run.httpStatus, 202);
  const log = (await full(run.id)).log as string;
  assert.match(log, new RegExp(`ids ${ids.join(', ')}`));
  assert.match(log, /→ 202: \{"accepted":true\}/);
});

test('a refused send is a failed run carrying the endpoint\'s reason', async () => {
  refuse = true;
  try {
    await addThroughRoute(h, WS, 'sr', 'orders', 'bob', 1);
    const res = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/orders/send`);
    assert.equal(res.status, 502);
    const [run] = await sendRuns();
    assert.equal(run!.status, 'failed');
    assert.equal(run!.httpStatus, 409);
    assert.equal(run!.error.code, 'SEND_FAILED');
    assert.match((await full(run!.id)).log, /→ 409: \{"error":"duplicate batch"\}/);
  } finally {
    refuse = false;
  }
});

test('a send nobody set up is a failed run too, with no installation', async () => {
  const added = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/nowhere/messages`, { data: { n: 1 } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const res = await h.api('POST', `/api/v1/workspaces/${WS}/integration-messages/nowhere/send`);
  assert.equal(res.status, 502);
  const [run] = await sendRuns();
  assert.equal(run!.target, 'send nowhere');
  assert.equal(run!.status, 'failed');
  assert.equal(run!.installationId, null);
  assert.match(run!.error.message, /setup-http-request:nowhere/);
});
