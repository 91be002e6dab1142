// The host-wide isolate memory budget (`limits.isolateMemoryMb`): every warm and spare
// isolate counts its manifest's memoryMb against it. Installations with large memoryMb are
// served one after another by evicting idle isolates (least recently used first), so the host
// stays under the budget; an install or upgrade whose memoryMb can never fit is refused with
// PLUGIN_LIMIT and nothing is written; while busy isolates hold the budget, a call that needs
// a new isolate waits for one to go idle, up to its time limit, then is refused with
// PLUGIN_LIMIT (a failed run), evicting nothing; an install then is refused (try again later);
// a call still waiting when a busy isolate goes idle gets its room; a neighbour in another
// workspace is served throughout.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { createMetrics } from '../../runtime/metrics.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const BUDGET = 240; // MiB: two hogs and the neighbour fill it exactly
const HOG_MB = 88;
const SPARE_MB = 64; // the sandbox's default memoryMb: the neighbour's, and each spare's
const PROMPT_MS = 1000;
const HOGS = ['hog1', 'hog2', 'hog3', 'hog5'];
const SHORT_MS = 600; // hog3's time limit: how long it may wait for room
let h: TestHost;
let hold: StubServer; // answers nothing until the test lets go
const held: http.ServerResponse[] = [];
const letGo = () => {
  for (const res of held.splice(0)) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"released":true}'); }
};

// A hog keeps a few MiB of its own; `?hold=1` waits on the hold stub, keeping its isolate busy.
const HOG = `
var hoard = [], calls = 0;
for (var i = 0; i < 4; i++) hoard.push(new Array(256 * 1024).fill(i));
exports.run = function (e) {
  calls++; // module state: 1 means a fresh isolate (the last one was evicted)
  if (!e.request.query.hold) return e.response.json({ ok: true, hoard: hoard.length, calls: calls });
  fetch('http://hold.test/' + e.request.query.hold).then(function (r) { return r.json(); })
    .then(function (b) { e.response.json(b); }, function (err) { e.response.status(502).json({ failed: String(err) }); });
};
`;

const manifest = (name: string, memoryMb: number, version = '1.0.0', timeoutMs = name === 'hog3' ? SHORT_MS : 10_000) => ({
  name, version, namespace: name, services: [{ route: 'go', main: 'go.js', access: 'public' }], permissions: { hosts: ['hold.test'] }, limits: { timeoutMs, memoryMb },
});

const assertUnderBudget = (when: string) => {
  const s = h.host.sandbox.stats();
  assert.equal(s.memoryBudgetMb, BUDGET);
  assert.ok(s.memoryMb <= BUDGET, `${when}: ${s.memoryMb} MiB of isolates counted, over the ${BUDGET} MiB budget`);
  return s;
};

interface Answer { status: number; body: any; ms: number; runId: string | null }
const get = async (path: string): Promise<Answer> => {
  const started = performance.now();
  const res = await fetch(`${h.url}${path}`);
  const body = await res.json();
  return { status: res.status, body, ms: performance.now() - started, runId: res.headers.get('x-plughost-run') };
};
const neighbourServed = async () => {
  const results = await Promise.all(Array.from({ length: 3 }, () => get('/workspaces/victim/calm/go')));
  for (const n of results) {
    assert.equal(n.status, 200, JSON.stringify(n.body));
    assert.deepEqual(n.body, { calm: true });
    assert.ok(n.ms < PROMPT_MS, `the neighbour took ${Math.round(n.ms)} ms`);
  }
  // A route answers before its run is over: only then is its isolate idle again.
  for (const n of results) await h.host.runs.whenDone(n.runId!);
};

before(async () => {
  hold = await startStub((_req, res) => { held.push(res); });
  h = await startHost({ egressMap: { 'hold.test': hold.url }, limits: { isolateMemoryMb: BUDGET } });
  const pub = await h.publish({ 'plugin.json': manifest('calm', SPARE_MB), 'go.js': 'exports.run = function (e) { e.response.json({ calm: true }); };\n' });
  assert.equal(pub.status, 201, JSON.stringify(pub.body));
  for (const name of HOGS) assert.equal((await h.publish({ 'plugin.json': manifest(name, HOG_MB), 'go.js': HOG })).status, 201);
  for (const [ws, plugins] of [['victim', ['calm']], ['attacker', HOGS]] as const) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    for (const plugin of plugins) {
      const installed = await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin });
      assert.equal(installed.status, 201, JSON.stringify(installed.body));
      assertUnderBudget(`after installing ${plugin}`);
    }
  }
});
after(async () => {
  letGo();
  await h.close();
  await hold.close();
});

test('hogs served in turn: idle isolates are evicted, least recently used first, and the host stays under its budget', async () => {
  const before = h.host.sandbox.stats().evictions;
  for (let round = 0; round < 2; round++) {
    for (const name of HOGS) {
      const res = await get(`/workspaces/attacker/${name}/go`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.ok, true);
      assert.equal(res.body.hoard, 4);
      const s = assertUnderBudget(`after calling ${name}`);
      assert.ok(s.warm <= 3, `${s.warm} warm isolates: at most ${BUDGET} MiB worth`);
    }
    await neighbourServed();
    assertUnderBudget('after the neighbour');
  }
  // Warm now: hog2, hog3 and the neighbour (240 MiB). hog3 again is warm; hog1 then evicts
  // the least recently used, hog2, not hog3.
  const calls = async (name: string) => (await get(`/workspaces/attacker/${name}/go`)).body.calls as number;
  const hog3Calls = await calls('hog3');
  assert.ok(hog3Calls > 1, 'hog3 was still warm');
  assert.equal(await calls('hog1'), 1, 'hog1 had been evicted');
  assert.equal(await calls('hog3'), hog3Calls + 1, 'hog3, used more recently than hog2, stayed warm');
  assert.equal(await calls('hog2'), 1, 'hog2, the least recently used, was evicted');
  await h.host.executor.idle(); // a route answers before its run is over
  const s = h.host.sandbox.stats();
  // Three hogs and the neighbour (328 MiB) never fit together in 240: each round evicts.
  assert.ok(s.evictions >= before + 4, `${s.evictions - before} evictions`);
  assert.equal(s.inFlight, 0);

  // The metrics the admin scrapes show the same budget and usage.
  const metrics = createMetrics({ warmIsolates: () => h.host.sandbox.stats().warm, sandbox: () => h.host.sandbox.stats() });
  const text = await metrics.registry.metrics();
  assert.match(text, new RegExp(`^plughost_isolate_memory_budget_mb ${BUDGET}$`, 'm'));
  assert.match(text, new RegExp(`^plughost_isolate_memory_mb ${s.memoryMb}$`, 'm'));
  assert.match(text, new RegExp(`^plughost_isolate_evictions_total ${s.evictions}$`, 'm'));
  assert.match(text, /^plughost_invocations_in_flight 0$/m);
});

test('an install or upgrade whose memoryMb can never fit the budget is refused with PLUGIN_LIMIT; nothing is written', async () => {
  assert.equal((await h.publish({ 'plugin.json': manifest('giant', 256), 'go.js': HOG })).status, 201);
  const refused = await h.api('POST', '/api/v1/workspaces/attacker/installations', { plugin: 'giant' });
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'PLUGIN_LIMIT');
  assert.equal(refused.body.error.details.limit, 'isolateMemoryMb');
  assert.match(refused.body.error.message, /limits\.memoryMb 256 MiB\) is larger than the host's whole isolate memory budget \(limits\.isolateMemoryMb 240 MiB\), so it can never run/);
  const list = await h.api('GET', '/api/v1/workspaces/attacker/installations');
  assert.deepEqual(list.body.data.map((i: { plugin: string }) => i.plugin).sort(), HOGS);

  // Inactive, it could be stored, but it could never be activated: refused the same way.
  assert.equal((await h.api('POST', '/api/v1/workspaces/attacker/installations', { plugin: 'giant', active: false })).status, 429);

  // An upgrade to a version too large is refused too, and the installation serves on as it was.
  assert.equal((await h.publish({ 'plugin.json': manifest('hog1', 256, '2.0.0'), 'go.js': HOG })).status, 201);
  const hog1 = list.body.data.find((i: { plugin: string }) => i.plugin === 'hog1');
  const upgrade = await h.api('PATCH', `/api/v1/workspaces/attacker/installations/${hog1.id}`, { version: '2.0.0' });
  assert.equal(upgrade.status, 429, JSON.stringify(upgrade.body));
  assert.equal(upgrade.body.error.details.limit, 'isolateMemoryMb');
  const still = await h.api('GET', `/api/v1/workspaces/attacker/installations/${hog1.id}`);
  assert.equal(still.body.version, '1.0.0');
  const res = await get('/workspaces/attacker/hog1/go');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  // Deactivating needs no isolate: allowed whatever the size.
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/attacker/installations/${hog1.id}`, { active: false })).status, 200);
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/attacker/installations/${hog1.id}`, { active: true })).status, 200);
  assertUnderBudget('after the refusals');
});

test('while busy isolates hold the budget, a call needing a new isolate waits its time limit, then gets PLUGIN_LIMIT, evicting nothing; one still waiting gets the room a busy isolate frees; the neighbour is served', async () => {
  // hog1 and hog2 busy (176 MiB); the neighbour takes the rest (64 MiB).
  const busy = ['hog1', 'hog2'].map((name) => get(`/workspaces/attacker/${name}/go?hold=${name}`));
  await hold.waitForRequests(hold.requests.length + 2);
  await neighbourServed();
  const before = assertUnderBudget('with two hogs busy');
  assert.equal(before.memoryMb, BUDGET, 'two busy hogs and the neighbour fill the budget');
  assert.equal(before.inFlight, 2);

  const res = await get('/workspaces/attacker/hog3/go');
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'PLUGIN_LIMIT');
  assert.match(res.body.error.message, /no room for the hog3 plugin's isolate \(88 MiB\): isolates busy with runs hold 176 MiB of the host's 240 MiB isolate memory budget \(limits\.isolateMemoryMb\); try again later \(waited 600 ms, the call's time limit\)/);
  assert.ok(res.ms >= SHORT_MS - 50 && res.ms < SHORT_MS + PROMPT_MS, `the refusal came after ${Math.round(res.ms)} ms`);
  await h.host.runs.whenDone(res.runId!);
  await h.host.recorder.flush();
  const run = await h.api('GET', `/api/v1/workspaces/attacker/runs/${res.runId}`);
  assert.equal(run.body.status, 'failed');
  assert.equal(run.body.error.code, 'PLUGIN_LIMIT');
  assert.equal(run.body.error.details.limit, 'isolateMemoryMb');
  assert.match(run.body.log, /\[host\] PLUGIN_LIMIT: no room/);

  // An install made now would find no room for its isolate either: refused, nothing written.
  assert.equal((await h.publish({ 'plugin.json': manifest('hog4', HOG_MB), 'go.js': HOG })).status, 201);
  const install = await h.api('POST', '/api/v1/workspaces/attacker/installations', { plugin: 'hog4' });
  assert.equal(install.status, 429, JSON.stringify(install.body));
  assert.equal(install.body.error.details.limit, 'isolateMemoryMb');
  assert.match(install.body.error.message, /try again later/);
  const list = await h.api('GET', '/api/v1/workspaces/attacker/installations');
  assert.ok(!list.body.data.some((i: { plugin: string }) => i.plugin === 'hog4'), 'the refused install wrote nothing');

  // Nothing was evicted for the refused call: the neighbour's isolate is still warm.
  assert.equal(h.host.sandbox.stats().evictions, before.evictions);
  await neighbourServed();
  assert.equal(h.host.sandbox.stats().evictions, before.evictions);

  // hog5 may wait 10 s: it is still waiting when the hogs are let go, and gets its room then.
  const waiter = get('/workspaces/attacker/hog5/go');
  await neighbourServed();
  letGo();
  for (const r of await Promise.all(busy)) assert.equal(r.status, 200, JSON.stringify(r.body));
  const served = await waiter;
  assert.equal(served.status, 200, JSON.stringify(served.body));
  assert.ok(h.host.sandbox.stats().evictions > before.evictions, 'an idle hog made way for it');
  assertUnderBudget('after the waiter was served');
  // The hogs idle again: hog3 gets its isolate by evicting one of them.
  const again = await get('/workspaces/attacker/hog3/go');
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assertUnderBudget('at the end');
});
