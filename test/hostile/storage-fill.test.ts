// Storage quotas: a hostile plugin in workspace "attacker" fills `$db` past `limits.kvKeys`
// and `limits.kvBytes` (awaited and un-awaited sets) and adds integration messages over
// `limits.messageBytes` and past `limits.queueMessages`. Each refusal reaches the plugin as
// PLUGIN_LIMIT naming the limit; a refused write leaves the old value; usage shows in the
// admin API; a neighbour plugin in workspace "victim" still stores and is served.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';

const KV_KEYS = 20;
const KV_BYTES = 4096;
const QUEUE = 5;
const MESSAGE_BYTES = 1024;
let h: TestHost;
let attackerId: string;

const FILLER = `
exports.run = async function (e) {
  var q = e.request.query, out = { ok: 0, refused: {} };
  var note = function (err) { var k = err.status + '/' + err.code + '/' + err.limit; out.refused[k] = (out.refused[k] || 0) + 1; out.message = err.message; };
  if (q.what === 'keys') {
    // Un-awaited, all at once: the quota must hold under racing writes.
    var all = [];
    for (var i = 0; i < Number(q.n); i++) all.push($db.set('k' + (100 + i), 1).then(function () { out.ok++; }, note));
    await Promise.all(all);
  } else if (q.what === 'big') {
    await $db.set(q.key, { s: 'x'.repeat(Number(q.size)) }).then(function () { out.ok++; }, note);
  } else if (q.what === 'get') {
    out.value = await $db.get(q.key);
  } else if (q.what === 'delete') {
    for (var d = Number(q.from); d < Number(q.to); d++) await $db.delete('k' + d).then(function () { out.ok++; }, function () {});
  } else if (q.what === 'messages') {
    for (var j = 0; j < Number(q.n); j++) {
      try { O.service('haplo:integration-message:add', { group: 'fill', data: { s: 'y'.repeat(Number(q.size)) } }); out.ok++; }
      catch (err) { note(err); }
    }
  }
  e.response.json(out);
};
`;
const NEIGHBOUR = `
exports.run = async function (e) {
  await $db.set('mine', { n: 1 });
  e.response.json({ stored: await $db.get('mine') });
};
`;

before(async () => {
  h = await startHost({ limits: { kvKeys: KV_KEYS, kvBytes: KV_BYTES, queueMessages: QUEUE, messageBytes: MESSAGE_BYTES } });
  for (const [name, ns, main] of [['filler', 'fill', FILLER], ['neighbour', 'nb', NEIGHBOUR]] as const) {
    const pub = await h.publish({ 'plugin.json': { name, version: '1.0.0', namespace: ns, services: [{ route: 'go', main: 'go.js', access: 'public' }], limits: { timeoutMs: 10_000 } }, 'go.js': main });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, plugin] of [['attacker', 'filler'], ['victim', 'neighbour']]) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    const inst = await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin });
    assert.equal(inst.status, 201, JSON.stringify(inst.body));
    if (ws === 'attacker') attackerId = inst.body.id;
  }
});
after(async () => {
  await h.close();
});

const go = async (query: Record<string, string | number>) => {
  const res = await fetch(`${h.url}/workspaces/attacker/fill/go?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)] as [string, string]))}`);
  const body = await res.json() as { ok: number; refused: Record<string, number>; message?: string; value?: unknown };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
};
const usage = async () => {
  const res = await h.api('GET', `/api/v1/workspaces/attacker/installations/${attackerId}`);
  assert.equal(res.status, 200);
  return res.body.usage as { kvKeys: number; kvBytes: number; limits: { kvKeys: number; kvBytes: number } };
};
const neighbourServed = async () => {
  const res = await fetch(`${h.url}/workspaces/victim/nb/go`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { stored: { n: 1 } });
};

test('racing $db.set calls stop exactly at limits.kvKeys with PLUGIN_LIMIT kvKeys; deleting frees a key', async () => {
  const body = await go({ what: 'keys', n: 60 });
  assert.equal(body.ok, KV_KEYS);
  assert.deepEqual(body.refused, { [`429/PLUGIN_LIMIT/kvKeys`]: 60 - KV_KEYS });
  assert.match(body.message!, /limits\.kvKeys/);
  const u = await usage();
  assert.equal(u.kvKeys, KV_KEYS);
  // Which 20 keys win the race is the store's affair; each is 4 bytes of key + 1 of JSON.
  assert.equal(u.kvBytes, KV_KEYS * 5);
  assert.deepEqual(u.limits, { kvKeys: KV_KEYS, kvBytes: KV_BYTES });
  // At the quota a new key is refused, whatever its size.
  assert.equal((await go({ what: 'big', key: 'k999', size: 1 })).ok, 0);
  await neighbourServed();
  assert.equal((await go({ what: 'delete', from: 100, to: 130 })).ok + (await go({ what: 'delete', from: 130, to: 160 })).ok, KV_KEYS);
  assert.deepEqual(await usage(), { kvKeys: 0, kvBytes: 0, limits: { kvKeys: KV_KEYS, kvBytes: KV_BYTES } });
});

test('a value that would take the installation past limits.kvBytes is refused and the old value stays', async () => {
  assert.equal((await go({ what: 'big', key: 'doc', size: 1000 })).ok, 1);
  const before = await usage();
  assert.equal(before.kvBytes, 3 + JSON.stringify({ s: 'x'.repeat(1000) }).length);
  const refused = await go({ what: 'big', key: 'doc', size: KV_BYTES });
  assert.equal(refused.ok, 0);
  assert.deepEqual(refused.refused, { '429/PLUGIN_LIMIT/kvBytes': 1 });
  assert.match(refused.message!, /limits\.kvBytes/);
  assert.deepEqual((await go({ what: 'get', key: 'doc' })).value, { s: 'x'.repeat(1000) });
  assert.deepEqual(await usage(), before);
  // Growing within the quota counts only the difference.
  assert.equal((await go({ what: 'big', key: 'doc', size: 2000 })).ok, 1);
  assert.equal((await usage()).kvBytes, 3 + JSON.stringify({ s: 'x'.repeat(2000) }).length);
  await neighbourServed();
});

test('integration messages: one over limits.messageBytes and those past limits.queueMessages are refused', async () => {
  const big = await go({ what: 'messages', n: 1, size: MESSAGE_BYTES });
  assert.equal(big.ok, 0);
  assert.equal(Object.keys(big.refused).length, 1);
  assert.match(Object.keys(big.refused)[0]!, /PLUGIN_LIMIT/);
  assert.match(big.message!, /limits\.messageBytes/);
  const many = await go({ what: 'messages', n: QUEUE + 3, size: 10 });
  assert.equal(many.ok, QUEUE);
  assert.equal(Object.values(many.refused).reduce((a, b) => a + b, 0), 3);
  assert.match(many.message!, /limits\.queueMessages/);
  const queues = await h.api('GET', '/api/v1/workspaces/attacker/integration-messages');
  assert.equal(queues.status, 200);
  assert.deepEqual(queues.body.limits, { queueMessages: QUEUE, messageBytes: MESSAGE_BYTES });
  const fill = queues.body.data.find((q: { group: string }) => q.group === 'fill');
  assert.equal(fill.unsent, QUEUE);
  // The admin API's hand-added message is held to the same queue limit.
  const byHand = await h.api('POST', '/api/v1/workspaces/attacker/integration-messages/fill/messages', { data: { by: 'hand' } });
  assert.equal(byHand.status, 429);
  assert.equal(byHand.body.error.code, 'PLUGIN_LIMIT');
  await neighbourServed();
});
