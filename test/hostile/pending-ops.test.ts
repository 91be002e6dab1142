// The pendingOps budget: one invocation may have at most `limits.pendingOps` host operations
// (timers, fetches, $db, $schedule) pending at once. A plugin arming 25,000
// timers or starting thousands of un-awaited `$db.set`s gets PLUGIN_LIMIT (with `limit:
// "pendingOps"`) for every operation past the budget, the run's log says so, the host holds
// no more than the budget, and a neighbour in another workspace is served meanwhile.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { assertNeighbourServed, installRoutePlugins, NEIGHBOUR_SOURCE } from './harness.ts';

const BUDGET = 200;
let h: TestHost;

const FLOOD = `
exports.run = function (e) {
  var what = e.request.query.what, n = Number(e.request.query.n), refused = 0, codes = {}, settled = 0, started = 0;
  function done() { e.response.json({ started: started, refused: refused, codes: codes }); }
  if (what === 'timers') {
    // A refused timer fails the run like an uncaught error, so count first and answer at once.
    for (var i = 0; i < n; i++) { setTimeout(function () {}, 60000); started++; }
    e.response.json({ started: started });
    return;
  }
  for (var j = 0; j < n; j++) {
    started++;
    $db.set('k' + j, { v: j }).then(function () {}, function (err) { refused++; codes[err.code + '/' + err.limit] = (codes[err.code + '/' + err.limit] || 0) + 1; })
      .then(function () { if (++settled === n) done(); });
  }
};
`;

before(async () => {
  h = await startHost({ limits: { pendingOps: BUDGET } });
  await installRoutePlugins(h, [
    { ws: 'attacker', name: 'flooder', namespace: 'fl', source: FLOOD },
    { ws: 'victim', name: 'neighbour', namespace: 'nb', source: NEIGHBOUR_SOURCE },
  ]);
});
after(async () => {
  await h.close();
});

const neighbourServed = () => assertNeighbourServed(h);

test('un-awaited $db.set calls past the budget reject with PLUGIN_LIMIT pendingOps; the rest are stored', async () => {
  const attack = fetch(`${h.url}/workspaces/attacker/fl/go?what=db&n=3000`);
  await neighbourServed();
  const res = await attack;
  assert.equal(res.status, 200);
  const body = await res.json() as { started: number; refused: number; codes: Record<string, number> };
  assert.equal(body.started, 3000);
  assert.ok(body.refused >= 3000 - BUDGET, `at most ${BUDGET} ran, refused ${body.refused}`);
  assert.deepEqual(Object.keys(body.codes), ['PLUGIN_LIMIT/pendingOps']);
  const run = await h.api('GET', `/api/v1/workspaces/attacker/runs/${res.headers.get('x-plughost-run')}`);
  assert.match(run.body.log, /host operation refused: 200 timers and operations already pending \(limit pendingOps\)/);
  await neighbourServed();
});

test('25,000 timers: those past the budget are refused, the run\'s log says so; the neighbour is served', async () => {
  const res = await fetch(`${h.url}/workspaces/attacker/fl/go?what=timers&n=25000`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { started: 25000 });
  await neighbourServed();
  const runId = res.headers.get('x-plughost-run')!;
  await h.host.runs.whenDone(runId);
  await h.host.recorder.flush();
  const run = await h.api('GET', `/api/v1/workspaces/attacker/runs/${runId}`);
  assert.match(run.body.log, /limit pendingOps/);
  // A route keeps the response it sent: the refusal is in its log, not its status.
  assert.equal(run.body.status, 'succeeded');
  await neighbourServed();
});
