// limits.backgroundQueued bounds the Haplo background jobs an installation has waiting, and a
// job waits until its run is over for good: a failed one waiting for its retry still counts,
// however quickly the scheduler picked it up. Past the bound O.background.run throws
// PLUGIN_LIMIT and nothing is queued; once the jobs finish, the installation may queue again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const MIN = 60_000;
const clock = createVirtualClock(Date.parse('2026-06-10T08:00:00.000Z'));
let h: TestHost;
let token: string;

before(async () => {
  h = await startHost({ clock, limits: { backgroundQueued: 3 }, schedules: { backoffMs: MIN, maxBackoffMs: MIN } });
  await h.host.start();
  await h.api('POST', '/api/v1/workspaces', { id: 'bq', name: 'Queue' });
  token = (await h.api('POST', '/api/v1/workspaces/bq/tokens', {})).body.token;
  assert.equal((await h.publish({
    'plugin.json': { pluginName: 'example_jobs', pluginVersion: 1, privilegesRequired: ['pBackgroundProcessing'], load: ['js/jobs.js'], respond: ['/do/example-jobs'] },
    'js/jobs.js': `
var failing = true;
P.backgroundCallback("work", function(data) { if(data.fail) { throw new Error("not yet"); } });
P.respond("POST", "/do/example-jobs/queue", [{parameter:"fail", as:"string"}], function(E, fail) {
    var out = {queued: 0, error: null};
    try { for (var i = 0; i < 5; i++) { O.background.run("example_jobs:work", {fail: fail === "yes"}); out.queued++; } }
    catch(e) { out.error = {code: e.code, limit: e.limit, message: e.message}; }
    E.response.kind = 'json';
    E.response.body = out;
});`,
  })).status, 201);
  assert.equal((await h.api('POST', '/api/v1/workspaces/bq/installations', { plugin: 'example_jobs' })).status, 201);
});
after(async () => { await h.close(); });

const queue = async (fail: boolean) => {
  const r = await fetch(`${h.url}/workspaces/bq/do/example-jobs/queue?fail=${fail ? 'yes' : 'no'}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return r.json() as Promise<{ queued: number; error: { code: string; limit: string; message: string } | null }>;
};

test('failing jobs waiting for their retry count against backgroundQueued; past it nothing is queued', async () => {
  const first = await queue(true);
  assert.equal(first.queued, 3);
  assert.deepEqual([first.error?.code, first.error?.limit], ['PLUGIN_LIMIT', 'backgroundQueued']);
  // The scheduler runs them at once; each fails and waits a minute for its retry: still waiting.
  await h.host.scheduler.idle();
  const runs = (await h.api('GET', '/api/v1/workspaces/bq/runs?kind=background')).body.data;
  assert.equal(runs.length, 3);
  assert.ok(runs.every((r: { status: string }) => r.status === 'failed'));
  const again = await queue(false);
  assert.equal(again.queued, 0);
  assert.match(again.error!.message, /3 background jobs of this installation are waiting/);
});

test('once the jobs are over for good, the installation may queue again', async () => {
  for (let i = 0; i < 5; i++) {
    await clock.advance(MIN);
    await h.host.scheduler.idle();
  }
  const later = await queue(false);
  assert.equal(later.queued, 3, JSON.stringify(later));
});
