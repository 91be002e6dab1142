// Closing a host while a send is in flight (SPEC §6 "only on success are they marked sent", §8
// "nothing lost"): host.close() must not tear the store down under the send. Either close waits
// for the send to finish (the batch ends `sent` once the stand-in answered 200) or the send is
// abandoned before its answer (the batch ends `unsent`, to be delivered by a later send); a batch
// the stand-in accepted must never be left claimed (`sending`), to be posted again once its lease
// runs out, and close must not hang on it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { createWorkspace, install, publishPlugin } from './fixtures/haplo.ts';

const WS = 'hshut';
const BASE = `/api/v1/workspaces/${WS}/integration-messages`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-shutdown-'));
let stub: StubServer;
const open: TestHost[] = [];

before(async () => { stub = await startStub(); });
after(async () => {
  for (const h of open) await h.close();
  await stub.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('closing the host during a send leaves the batch sent or unsent, never claimed, and does not hang', async () => {
  const h = await startHost({ dataDir, egressMap: { 'shut.example.com': stub.url } });
  await createWorkspace(h, WS);
  await publishPlugin(h, {
    name: 'hshut-queue', namespace: 'shut', hosts: ['shut.example.com'], main: `
P.implementService("haplo:integration-message:setup-http-request:shut", function (http) { http.url("https://shut.example.com/in"); });`,
  });
  await install(h, WS, 'hshut-queue');
  const added = await h.api('POST', `${BASE}/shut/messages`, { data: { n: 1 } });
  assert.equal(added.status, 201);

  // The stand-in holds its answer until the host has begun to close.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  stub.respond = (_req, res) => { void gate.then(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); }); };
  const sending = h.api('POST', `${BASE}/shut/send`).catch((err: Error) => ({ status: 0, body: err.message }));
  await stub.waitForRequests(1);
  const started = performance.now();
  const closing = h.close();
  release();
  await closing;
  const closeMs = performance.now() - started;
  await sending;

  const again = await startHost({ dataDir, egressMap: { 'shut.example.com': stub.url } });
  open.push(again);
  stub.respond = (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); };
  const listed = await again.api('GET', `${BASE}/shut/messages`);
  const status = listed.body.data[0].status as string;
  assert.ok(closeMs < 5000, `close took ${Math.round(closeMs)} ms`);
  assert.ok(status === 'sent' || status === 'unsent', `the batch is left ${status}`);
  if (status === 'unsent') {
    assert.deepEqual((await again.api('POST', `${BASE}/shut/send`)).body, { sent: 1 });
    assert.equal(stub.requests.length, 2);
  } else {
    assert.equal(stub.requests.length, 1);
  }
});
