// The guest glue's budgets hold against plugin code that replaces the built-ins they use:
// with Map.prototype, Array.prototype and Promise.reject rewritten to forget everything, a
// run still cannot pass its message budget, and a setInterval left by a route that has
// answered never fires again. A neighbour in another workspace is served.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { assertNeighbourServed, installRoutePlugins, NEIGHBOUR_SOURCE } from './harness.ts';

const MESSAGES = 200;
let h: TestHost;

const TAMPER = `
var fired = 0;
// Everything the glue might count with, made to forget.
Map.prototype.get = function () { return undefined; };
Map.prototype.has = function () { return false; };
Map.prototype.set = function () { return this; };
Map.prototype.delete = function () { return true; };
Map.prototype.forEach = function () {};
Map.prototype.values = function () { return [][Symbol.iterator](); };
Array.prototype.push = function () { return 0; };
Array.prototype.pop = function () { return undefined; };
Promise.reject = function () { return Promise.resolve(); };
exports.run = function (e) {
  var q = e.request.query;
  if (q.what === 'interval') {
    setInterval(function () { fired++; }, 10);
    return e.response.json({ armed: true });
  }
  if (q.what === 'fired') return e.response.json({ fired: fired });
  var refused = 0, settled = 0, n = ${MESSAGES * 3};
  function one() { if (++settled === n) e.response.json({ refused: refused }); }
  for (var i = 0; i < n; i++) $db.get('k' + i).then(one, function (err) { if (err.limit === 'guestMessages') refused++; one(); });
};
`;

before(async () => {
  h = await startHost({ limits: { guestMessages: MESSAGES } });
  await installRoutePlugins(h, [
    { ws: 'attacker', name: 'tamper', namespace: 'tp', source: TAMPER },
    { ws: 'victim', name: 'neighbour', namespace: 'nb', source: NEIGHBOUR_SOURCE },
  ]);
});
after(async () => {
  await h.close();
});

const neighbourServed = () => assertNeighbourServed(h);

test('with the built-ins rewritten, operations past guestMessages are still refused', { timeout: 60_000 }, async () => {
  const res = await fetch(`${h.url}/workspaces/attacker/tp/go?what=ops`);
  assert.equal(res.status, 200);
  const body = await res.json() as { refused: number };
  assert.equal(body.refused, MESSAGES * 3 - MESSAGES, 'every operation past the budget is refused');
  await neighbourServed();
});

test('a setInterval of a route that has answered never fires, even with the built-ins rewritten', { timeout: 60_000 }, async () => {
  const armed = await fetch(`${h.url}/workspaces/attacker/tp/go?what=interval`);
  assert.deepEqual(await armed.json(), { armed: true });
  await h.host.runs.whenDone(armed.headers.get('x-plughost-run')!);
  // Other runs come and go in the same isolate; the interval's run stays over.
  for (let i = 0; i < 5; i++) await neighbourServed();
  const first = await (await fetch(`${h.url}/workspaces/attacker/tp/go?what=fired`)).json() as { fired: number };
  const second = await (await fetch(`${h.url}/workspaces/attacker/tp/go?what=fired`)).json() as { fired: number };
  assert.equal(first.fired, 0);
  assert.equal(second.fired, 0);
});
