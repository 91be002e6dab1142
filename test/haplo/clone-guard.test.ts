// The clone guard (SPEC §6, as Haplo's): a store copied to a new data directory (the SQLite
// file with its -wal/-shm and the secrets key) does not send its integration messages: send is
// 409 SENDING_DISABLED and they stay unsent, until the operator enables sending there
// (POST /api/v1/integration-messages/enable-sending; a workspace token gets 403); then the
// send delivers. The host on the original directory sends without enabling anything.
// Copying a data directory is about the SQLite store, so this file always runs on SQLite, also
// in the PostgreSQL pass of the suite (where every host shares one database and one identity).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { createWorkspace, install, publishPlugin, queueOf, workspaceToken } from './fixtures/haplo.ts';

const pgUrl = process.env.PLUGHOST_TEST_DATABASE_URL;
delete process.env.PLUGHOST_TEST_DATABASE_URL; // startHost reads it: SQLite here, whatever the pass
const WS = 'hclone';
const BASE = `/api/v1/workspaces/${WS}/integration-messages`;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-clone-'));
const originalDir = path.join(root, 'original');
const copyDir = path.join(root, 'copy');
let stub: StubServer;
const open: TestHost[] = [];
let addedIds: number[] = [];
let tokenInStore: string;

const start = async (dataDir: string) => {
  const h = await startHost({ dataDir, egressMap: { 'export.example.com': stub.url } });
  open.push(h);
  return h;
};
const close = async (h: TestHost) => {
  await h.close();
  open.splice(open.indexOf(h), 1);
};
const idsIn = (body: string) => (JSON.parse(body) as { messages: Array<{ id: number }> }).messages.map((m) => m.id);

before(async () => {
  stub = await startStub();
  fs.mkdirSync(originalDir);
  const h = await start(originalDir);
  await createWorkspace(h, WS);
  await publishPlugin(h, {
    name: 'hclone-exporter', namespace: 'hclone-exporter', hosts: ['export.example.com'], main: `
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "export", method: "send", title: "Export", description: "to the export service" });
});
P.implementService("haplo:integration-message:setup-http-request:export", function (http) {
  http.url("https://export.example.com/in");
});`,
  });
  await install(h, WS, 'hclone-exporter');
  for (const name of ['a', 'b', 'c']) {
    const res = await h.api('POST', `${BASE}/export/messages`, { data: { name } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    addedIds.push(res.body.id);
  }
  tokenInStore = await workspaceToken(h, WS);
  await close(h);

  // Copy the store as an operator would: the SQLite file with whatever WAL files are there, and the secrets key.
  fs.mkdirSync(copyDir);
  const copied: string[] = [];
  for (const name of fs.readdirSync(originalDir)) {
    if (/^plughost\.sqlite(-wal|-shm)?$/.test(name) || name === 'secret.key') {
      fs.copyFileSync(path.join(originalDir, name), path.join(copyDir, name));
      copied.push(name);
    }
  }
  assert.ok(copied.includes('plughost.sqlite') && copied.includes('secret.key'), `copied ${copied.join(', ')}`);
});
after(async () => {
  for (const h of [...open]) await h.close();
  await stub.close();
  fs.rmSync(root, { recursive: true, force: true });
  if (pgUrl !== undefined) process.env.PLUGHOST_TEST_DATABASE_URL = pgUrl;
});

test('a copied store sends nothing until the operator enables sending there', async () => {
  const copy = await start(copyDir);
  // Everything came across: the workspace, the installation, the queue and its messages.
  const q = await queueOf(copy, WS, 'export');
  assert.deepEqual([q.unsent, q.sent], [3, 0]);
  const listing = await copy.api('GET', BASE);
  assert.equal(listing.body.sendingEnabled, false);
  const status = await copy.api('GET', '/api/v1/integration-messages/sending');
  assert.equal(status.status, 200, JSON.stringify(status.body));
  assert.equal(status.body.enabled, false);

  const refused = await copy.api('POST', `${BASE}/export/send`);
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'SENDING_DISABLED');
  assert.match(refused.body.error.message, /enable-sending/);
  assert.equal(stub.requests.length, 0, 'nothing left the copy');
  const still = await queueOf(copy, WS, 'export');
  assert.deepEqual([still.unsent, still.sent], [3, 0]);
  const messages = await copy.api('GET', `${BASE}/export/messages`);
  assert.ok((messages.body.data as Array<{ status: string }>).every((m) => m.status === 'unsent'), JSON.stringify(messages.body.data));

  // Only the operator may switch sending on: a workspace token (copied with the store) gets 403.
  const byWorkspace = await copy.api('POST', '/api/v1/integration-messages/enable-sending', undefined, tokenInStore);
  assert.equal(byWorkspace.status, 403, JSON.stringify(byWorkspace.body));
  assert.equal(byWorkspace.body.error.code, 'FORBIDDEN');
  assert.equal((await copy.api('POST', `${BASE}/export/send`)).status, 409, 'still off');

  const enabled = await copy.api('POST', '/api/v1/integration-messages/enable-sending');
  assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
  assert.equal(enabled.body.enabled, true);
  const sent = await copy.api('POST', `${BASE}/export/send`);
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.deepEqual(sent.body, { sent: 3 });
  assert.equal(stub.requests.length, 1);
  assert.deepEqual(idsIn(stub.requests[0]!.body), addedIds);
  assert.equal((await copy.api('GET', BASE)).body.sendingEnabled, true);
  await close(copy);

  // Enabled stays enabled across a restart of the copy.
  const again = await start(copyDir);
  assert.equal((await again.api('GET', '/api/v1/integration-messages/sending')).body.enabled, true);
  await close(again);
});

test('the host on the original directory sends without enabling anything', async () => {
  const original = await start(originalDir);
  assert.equal((await original.api('GET', BASE)).body.sendingEnabled, true);
  const before = stub.requests.length;
  const res = await original.api('POST', `${BASE}/export/send`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, { sent: 3 }, 'the original\'s own copy of the messages');
  assert.equal(stub.requests.length, before + 1);
  assert.deepEqual(idsIn(stub.requests.at(-1)!.body), addedIds);
  await close(original);
});

test('enabling sending on the copy does not stop the original, and the original is still the owner of its own file', async () => {
  // The copy's enable wrote its identity into the COPY's store only.
  const original = await start(originalDir);
  const status = await original.api('GET', '/api/v1/integration-messages/sending');
  assert.equal(status.body.enabled, true);
  assert.equal(status.body.allowedIdentity, status.body.identity);
  const add = await original.api('POST', `${BASE}/export/messages`, { data: { name: 'd' } });
  assert.equal(add.status, 201);
  const res = await original.api('POST', `${BASE}/export/send`);
  assert.deepEqual(res.body, { sent: 1 });
  await close(original);
});
