// Timers cost the host nothing per timer: the guest keeps its own timer queue and the host
// holds one wake-up for the whole isolate. With a pendingOps budget large enough to let them
// all through, 25,000 timers in one run add at most a couple of Node timers to the host, all
// of them fire, in order, and a neighbour in another workspace is served while they wait.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { assertNeighbourServed, installRoutePlugins, NEIGHBOUR_SOURCE } from './harness.ts';

const TIMERS = Number(process.env.T ?? 25_000);
let h: TestHost;

const FLOOD = `
var fired = [], ids = [];
exports.run = function (e) {
  var what = e.request.query.what;
  if (what === 'arm') {
    fired = [];
    // Five delays 200 ms apart, mixed through the loop; half of the timers cleared before they fire.
    for (var i = 0; i < ${TIMERS}; i++) {
      (function (k) { ids[k] = setTimeout(function () { fired.push(k); if (fired.length === ${TIMERS / 2}) e.response.json({ fired: fired.length, ordered: isOrdered() }); }, 300 + (k % 5) * 200); })(i);
    }
    for (var j = 1; j < ${TIMERS}; j += 2) clearTimeout(ids[j]);
    console.log('armed');
    return;
  }
  e.response.json({ ok: true });
};
function isOrdered() {
  // By due time, and in creation order among timers due at the same time.
  for (var i = 1; i < fired.length; i++) {
    var a = fired[i - 1], b = fired[i];
    if (a % 5 > b % 5 || (a % 5 === b % 5 && a > b)) return false;
  }
  return fired.every(function (k) { return k % 2 === 0; });
}
`;

before(async () => {
  h = await startHost({ limits: { pendingOps: TIMERS + 10 } });
  await installRoutePlugins(h, [
    { ws: 'attacker', name: 'ticker', namespace: 'tk', source: FLOOD, limits: { timeoutMs: 20_000 } },
    { ws: 'victim', name: 'neighbour', namespace: 'nb', source: NEIGHBOUR_SOURCE },
  ]);
  // Warm both isolates, so that the timer count below sees only what the flood adds.
  assert.equal((await fetch(`${h.url}/workspaces/attacker/tk/go`)).status, 200);
  assert.equal((await fetch(`${h.url}/workspaces/victim/nb/go`)).status, 200);
});
after(async () => {
  await h.close();
});

const nodeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('25,000 timers in one run hold one host wake-up, fire in due order, and clearTimeout holds', { timeout: 60_000 }, async () => {
  const before = nodeTimers();
  const attack = fetch(`${h.url}/workspaces/attacker/tk/go?what=arm`);
  let done = false;
  void attack.finally(() => { done = true; });
  // Sample the host's Node timers until the run answers (after its timers have fired).
  let most = 0;
  while (!done) {
    await new Promise((r) => setTimeout(r, 10));
    most = Math.max(most, nodeTimers() - before);
  }
  // This sampler's own timer, the run's watchdog, the isolate's one wake-up and the HTTP
  // request's own: a handful, not 25,000.
  assert.ok(most <= 8, `the host held up to ${most} more Node timers while 25,000 plugin timers were pending`);
  const res = await attack;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { fired: TIMERS / 2, ordered: true });
});

test('the neighbour is served while the timers are pending', { timeout: 60_000 }, async () => {
  const attack = fetch(`${h.url}/workspaces/attacker/tk/go?what=arm`);
  for (let i = 0; i < 5; i++) await assertNeighbourServed(h);
  assert.equal((await attack).status, 200);
});
