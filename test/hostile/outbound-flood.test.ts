// The outbound budgets: at most `limits.outboundPerInstallation` requests in flight per
// installation and `limits.outboundHostWide` for the host. A plugin firing many concurrent
// fetches at an allowed host that never answers gets PLUGIN_LIMIT for the ones past its
// budget (they hold no socket), and a neighbour in another workspace still fetches and is
// served.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const PER_INSTALLATION = 8;
let h: TestHost;
let silent: StubServer; // accepts and never answers
let quick: StubServer;
let held = 0;

const FLOOD = `
exports.run = function (e) {
  var n = Number(e.request.query.n), refused = {}, count = 0, settled = 0;
  for (var i = 0; i < n; i++) {
    fetch('http://silent.test/' + i).then(function () {}, function (err) {
      if (err.code === 'PLUGIN_LIMIT') { count++; refused[err.limit] = (refused[err.limit] || 0) + 1; }
    }).then(function () { if (++settled === n - ${PER_INSTALLATION}) e.response.json({ refused: count, limits: refused }); });
  }
};
`;

before(async () => {
  silent = await startStub(() => { held++; });
  quick = await startStub((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"pong":true}'); });
  h = await startHost({ egressMap: { 'silent.test': silent.url, 'quick.test': quick.url }, limits: { outboundPerInstallation: PER_INSTALLATION } });
  const plugins = [
    ['flooder', 'fl', FLOOD, ['silent.test']],
    ['fetcher', 'fe', 'exports.run = function (e) { fetch("http://quick.test/").then(function (r) { return r.json(); }).then(function (b) { e.response.json(b); }); };\n', ['quick.test']],
  ] as const;
  for (const [name, ns, main, hosts] of plugins) {
    const pub = await h.publish({
      'plugin.json': { name, version: '1.0.0', namespace: ns, services: [{ route: 'go', main: 'go.js', access: 'public' }], permissions: { hosts: [...hosts] }, limits: { timeoutMs: 5_000 } },
      'go.js': main,
    });
    assert.equal(pub.status, 201, JSON.stringify(pub.body));
  }
  for (const [ws, plugin] of [['attacker', 'flooder'], ['victim', 'fetcher']]) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws })).status, 201);
    assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin })).status, 201);
  }
});
after(async () => {
  await h.close();
  await silent.close();
  await quick.close();
});

test('fetches past the installation\'s budget are refused at once; the neighbour still fetches', async () => {
  const res = await fetch(`${h.url}/workspaces/attacker/fl/go?n=500`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { refused: 500 - PER_INSTALLATION, limits: { outboundPerInstallation: 500 - PER_INSTALLATION } });
  assert.ok(held <= PER_INSTALLATION, `the silent host saw ${held} connections, at most ${PER_INSTALLATION}`);
  // The attacker's 8 requests are still hanging: the neighbour's own budget is untouched.
  const neighbour = await fetch(`${h.url}/workspaces/victim/fe/go`);
  assert.equal(neighbour.status, 200);
  assert.deepEqual(await neighbour.json(), { pong: true });
});
