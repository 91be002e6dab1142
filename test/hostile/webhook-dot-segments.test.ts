// Scheduled-webhook URLs read once, as written: a webhook of workspace "attacker" whose url
// climbs into workspace "victim" with dot segments (plain, percent-encoded, mixed case, with
// backslashes, encoded slashes, or a tab the URL parser would drop) is refused at create and
// at update with 400 INVALID_BODY naming `url`, and nothing is written. A webhook stored
// before these rules with such a url (written straight into the store here) fails its run
// with FORBIDDEN when it fires, by hand or by the scheduler, is not retried, and never
// reaches the victim's route. The victim (the neighbour) is served promptly throughout.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const clock = createVirtualClock(Date.parse('2030-01-01T00:00:00Z'));
const BASE = '/api/v1/workspaces/attacker/scheduled-webhooks';
const PROMPT_MS = 1000;
let h: TestHost;

const ECHO = `
exports.run = function (e) {
  console.log('SERVED ' + e.request.params.workspaceId + ' ' + e.request.path);
  e.response.json({ served: e.request.params.workspaceId });
};
`;

/** Urls of workspace "attacker" that would call the victim's route once the parser resolved them. */
const CLIMBS = [
  '/workspaces/attacker/../victim/ns/r',
  '/workspaces/attacker/%2e%2e/victim/ns/r',
  '/workspaces/attacker/%2E%2E/victim/ns/r',
  '/workspaces/attacker/.%2e/victim/ns/r',
  '/workspaces/attacker/%2e./victim/ns/r',
  '/workspaces/attacker/ns/r/../../../victim/ns/r',
  '/workspaces/attacker/ns/r/%2e%2e/%2e%2e/%2e%2e/victim/ns/r',
  '/workspaces/attacker/..%2fvictim/ns/r',
  '/workspaces/attacker%2f..%2fvictim/ns/r',
  '/workspaces/attacker/ns/..%2F..%2Fvictim%2Fns/r',
  '/workspaces/attacker/..\\victim/ns/r',
  '/workspaces/attacker/ns/r\\..\\..\\..\\victim\\ns\\r',
  '/workspaces/attacker/%5c../victim/ns/r',
  '/workspaces/attacker/.\t./victim/ns/r',
  '/workspaces/attacker/.\n./victim/ns/r',
  '/workspaces/attacker/./ns/r',
  '//victim.example/workspaces/attacker/ns/r',
  '/workspaces/victim/ns/r',
];

before(async () => {
  h = await startHost({ clock });
  const pub = await h.publish({
    'plugin.json': { name: 'echo', version: '1.0.0', namespace: 'ns', services: [{ route: 'r', main: 'plugin.js', access: 'public' }] },
    'plugin.js': ECHO,
  });
  assert.equal(pub.status, 201, JSON.stringify(pub.body));
  for (const ws of ['attacker', 'victim']) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin: 'echo' })).status, 201);
  }
});
after(async () => {
  await h.close();
});

const victimRuns = async (): Promise<any[]> => {
  await h.host.recorder.flush();
  const res = await h.api('GET', '/api/v1/workspaces/victim/runs?limit=200');
  assert.equal(res.status, 200);
  return res.body.data;
};

/** The neighbour: the victim's own route, called directly, answers promptly. */
const neighbourServed = async () => {
  const started = performance.now();
  const res = await fetch(`${h.url}/workspaces/victim/ns/r`);
  const ms = performance.now() - started;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { served: 'victim' });
  assert.ok(ms < PROMPT_MS, `the neighbour took ${Math.round(ms)} ms`);
};

const assertRefusedUrl = (res: { status: number; body: any }, url: string) => {
  assert.equal(res.status, 400, `${JSON.stringify(url)}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, 'INVALID_BODY', JSON.stringify(url));
  assert.match(res.body.error.message, /\burl\b/, JSON.stringify(url));
  assert.deepEqual(res.body.error.details.map((d: { path: string }) => d.path), ['url'], JSON.stringify(url));
};

test('create refuses every url that climbs out of its workspace; nothing is stored', async () => {
  const before = (await h.api('GET', BASE)).body.data.length;
  for (const url of CLIMBS) {
    assertRefusedUrl(await h.api('POST', BASE, { url, frequency: 'daily' }), url);
  }
  assert.equal((await h.api('GET', BASE)).body.data.length, before, 'no webhook was written');
  await neighbourServed();
});

test('update refuses the same urls and keeps the url it had', async () => {
  const created = await h.api('POST', BASE, { url: '/workspaces/attacker/ns/r?from=patch', frequency: 'daily', start: '2099-01-01 09:00' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  for (const url of CLIMBS) {
    assertRefusedUrl(await h.api('PATCH', `${BASE}/${created.body.id}`, { url }), url);
  }
  const after = await h.api('GET', `${BASE}/${created.body.id}`);
  assert.equal(after.body.url, '/workspaces/attacker/ns/r?from=patch');
  assert.equal((await h.api('DELETE', `${BASE}/${created.body.id}`)).status, 204);
  await neighbourServed();
});

test('a plain route url is kept as the parser reads it; dots in its query are data, not a path', async () => {
  const created = await h.api('POST', BASE, { url: '/workspaces/attacker/ns/r/sub?next=../../victim/ns/r#frag', frequency: 'daily', start: '2099-01-01 09:00' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.url, '/workspaces/attacker/ns/r/sub?next=../../victim/ns/r');
  const ran = await h.api('POST', `${BASE}/${created.body.id}/run`);
  assert.equal(ran.body.status, 'succeeded', JSON.stringify(ran.body.run));
  assert.match(ran.body.run.log, /SERVED attacker \/workspaces\/attacker\/ns\/r\/sub/);
  assert.equal((await h.api('DELETE', `${BASE}/${created.body.id}`)).status, 204);
});

test('a webhook stored with such a url fails its run and never reaches the victim', async () => {
  const victimBefore = (await victimRuns()).length;
  const created = await h.api('POST', BASE, { url: '/workspaces/attacker/ns/r?from=stored', frequency: 'daily', start: '2099-01-01 09:00' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stored = (await h.host.store.schedules.get(created.body.id))!;
  for (const url of ['/workspaces/attacker/../victim/ns/r', '/workspaces/attacker/%2e%2e/victim/ns/r', '/workspaces/attacker/.%2E/victim/ns/r', '/workspaces/attacker/..\\victim/ns/r', '/workspaces/victim/ns/r']) {
    // As a host before this rule would have stored it.
    await h.host.store.schedules.update({ ...stored, spec: { ...stored.spec, url } });
    const ran = await h.api('POST', `${BASE}/${created.body.id}/run`);
    assert.equal(ran.status, 200, JSON.stringify(ran.body));
    assert.equal(ran.body.status, 'failed', JSON.stringify(url));
    assert.equal(ran.body.run.error.code, 'FORBIDDEN', JSON.stringify(url));
    assert.match(ran.body.run.error.message, /url .* nothing was called/, JSON.stringify(url));
    assert.equal(ran.body.run.installationId, null, 'no installation ran');
  }
  assert.equal((await victimRuns()).length, victimBefore, 'the victim\'s route never ran');
  await neighbourServed();
  assert.equal((await h.api('DELETE', `${BASE}/${created.body.id}`)).status, 204);
});

test('fired by the scheduler, a stored climbing url fails once, is not retried, and calls nothing', async () => {
  const victimBefore = (await victimRuns()).length;
  const created = await h.api('POST', BASE, { url: '/workspaces/attacker/ns/r', frequency: 'daily', start: '2030-01-01 06:00', timezone: 'UTC' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stored = (await h.host.store.schedules.get(created.body.id))!;
  await h.host.store.schedules.update({ ...stored, spec: { ...stored.spec, url: '/workspaces/attacker/%2e%2e/victim/ns/r' } });
  const finished = h.host.events.waitFor('occurrence:finished', (info) => info.scheduleId === created.body.id);
  await clock.set(Date.parse('2030-01-01T06:00:00Z'));
  const [info] = await finished;
  assert.equal(info.status, 'failed');
  // Ten virtual minutes: past every backoff, no retry runs.
  for (let i = 0; i < 20; i++) {
    await clock.advance(30_000);
    await h.host.scheduler.idle();
  }
  const occurrences = (await h.api('GET', `${BASE}/${created.body.id}`)).body.occurrences;
  assert.equal(occurrences.length, 1);
  assert.equal(occurrences[0].attempt, 1);
  assert.equal(occurrences[0].status, 'failed');
  assert.match(occurrences[0].error, /^FORBIDDEN: /);
  assert.equal((await victimRuns()).length, victimBefore, 'the victim\'s route never ran');
  await neighbourServed();
});

test('a webhook pointed at another route gets a new secret; other changes keep it', async () => {
  const created = await h.api('POST', BASE, { url: '/workspaces/attacker/ns/r', frequency: 'daily', start: '2099-01-01 09:00' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const first = created.body.secretKey as string;
  assert.match(first, /^[0-9a-f]{48}$/);
  const described = await h.api('PATCH', `${BASE}/${created.body.id}`, { description: 'same target' });
  assert.equal(described.status, 200, JSON.stringify(described.body));
  assert.equal(described.body.secretKey, first, 'a change that keeps the url keeps the secret');
  const same = await h.api('PATCH', `${BASE}/${created.body.id}`, { url: '/workspaces/attacker/ns/r' });
  assert.equal(same.body.secretKey, first, 'the same url again keeps the secret');
  const moved = await h.api('PATCH', `${BASE}/${created.body.id}`, { url: '/workspaces/attacker/ns/other' });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  assert.notEqual(moved.body.secretKey, first, 'whoever saw the old secret cannot sign for the new route');
  assert.match(moved.body.secretKey, /^[0-9a-f]{48}$/);
});
