// An op flood with large payloads: 300 un-awaited `$db.set` calls of 4 MiB each. The guest
// counts the bytes of the arguments its run has pending and refuses what would pass
// `limits.pendingOpBytes` (16 MiB) before anything is copied out of the isolate, so the host
// receives three of them (each refused by Freshworks' 40 KB entry limit, nothing stored) and
// the other 297 reject with PLUGIN_LIMIT "pendingOpBytes". A neighbour is served meanwhile.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { assertNeighbourServed, installRoutePlugins, NEIGHBOUR_SOURCE } from './harness.ts';

let h: TestHost;

const FLOOD = `
exports.run = function (e) {
  var n = 300, big = 'x'.repeat(4 * 1024 * 1024), codes = {}, settled = 0;
  for (var j = 0; j < n; j++) {
    $db.set('k' + j, { v: big }).then(function () { count('stored'); }, function (err) { count(err.code ? err.code + '/' + err.limit : 'status ' + err.status); });
  }
  function count(c) { codes[c] = (codes[c] || 0) + 1; if (++settled === n) e.response.json(codes); }
};
`;

before(async () => {
  h = await startHost({});
  await installRoutePlugins(h, [
    { ws: 'attacker', name: 'hoarder', namespace: 'ho', source: FLOOD, limits: { timeoutMs: 20_000, memoryMb: 128 } },
    { ws: 'victim', name: 'neighbour', namespace: 'nb', source: NEIGHBOUR_SOURCE },
  ]);
});
after(async () => {
  await h.close();
});

test('300 un-awaited 4 MiB $db.set calls: three reach the host, the rest are refused in the isolate', { timeout: 60_000 }, async () => {
  const attack = fetch(`${h.url}/workspaces/attacker/ho/go`);
  await assertNeighbourServed(h);
  const res = await attack;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { 'status 400': 3, 'PLUGIN_LIMIT/pendingOpBytes': 297 });
  const runId = res.headers.get('x-plughost-run')!;
  await h.host.runs.whenDone(runId);
  await h.host.recorder.flush();
  const run = (await h.api('GET', `/api/v1/workspaces/attacker/runs/${runId}`)).body as { log: string };
  assert.match(run.log, /host operation refused: the arguments of the operations pending would pass 16777216 bytes \(limit pendingOpBytes\)/);
  const installation = (await h.api('GET', '/api/v1/workspaces/attacker/installations')).body.data[0] as { id: string };
  const detail = (await h.api('GET', `/api/v1/workspaces/attacker/installations/${installation.id}`)).body as { usage: { kvKeys: number } };
  assert.equal(detail.usage.kvKeys, 0, 'nothing was stored');
});
