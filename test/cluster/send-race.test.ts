// Two host processes on one PostgreSQL database and schema send the same integration-message
// queue at the same moment (SPEC §6 send, §8 "each … still runs once"): each message is
// delivered exactly once in total. The admin `POST …/integration-messages/:group/send` goes to
// both hosts at once; the stand-in endpoint holds its first answer until both sends have
// claimed (the other's POST arrived or its send answered), so the two claims overlap. The
// bodies the endpoint received are Haplo's default JSON `{version: 0, token, messages}`.
// Needs PostgreSQL in both passes of `npm test` (see fixtures/pg.ts); it fails without it.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, test } from 'node:test';
import { startStub, type StubServer } from '../helpers/stub-server.ts';
import { within, type HostChild } from '../schedule/fixtures/crash-child.ts';
import { setUpPlugin, startCluster } from './fixtures/cluster.ts';
import { pgSpace, type PgSpace } from './fixtures/pg.ts';

const WS = 'race';
const GROUP = 'race.sync';
const SINK = 'sink.race.test';
const ROUNDS = 5;
const PER_ROUND = 40;

let space: PgSpace;
let stub: StubServer;
let nodes: HostChild[] = [];
/** The answer held back in this round, and who wants to know a request arrived. */
let holding: http.ServerResponse | undefined;
let arrivals: Array<() => void> = [];
const heldAnswer = (): http.ServerResponse | undefined => holding;

before(async () => {
  space = await pgSpace('send-race');
  stub = await startStub((_req, res) => {
    const first = holding === undefined;
    if (first) holding = res; // held until both sends have claimed
    else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }
    for (const wake of arrivals.splice(0)) wake();
  });
  nodes = await startCluster({
    nodes: 2, dataDir: space.dataDir, databaseUrl: space.url, startMs: Date.parse('2030-01-01T00:00:00Z'),
    perNode: (i) => ({ egressMap: { [SINK]: `${stub.url}/n${i}` } }),
  });
});

after(async () => {
  for (const n of nodes) await n.kill().catch(() => undefined);
  holding?.destroy();
  await stub?.close();
  await space?.drop();
});

const fromNode = (i: number) => stub.requests.filter((r) => r.url.startsWith(`/n${i}/`));
/** Resolves once the stub has a request from node `i` beyond the first `seen`. */
const requestFrom = (i: number, seen: number) => new Promise<void>((resolve) => {
  const check = () => (fromNode(i).length > seen ? resolve() : arrivals.push(check));
  check();
});

test('two hosts sending one queue at once deliver every message exactly once', async (t) => {
  const installed = await setUpPlugin(nodes, {
    'plugin.json': { name: 'race-sync', version: '1.0.0', namespace: 'racesync', main: 'main.js', permissions: { hosts: [SINK] } },
    'main.js': `
P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: ${JSON.stringify(GROUP)}, method: "send", title: "Race", description: "sent by two hosts at once" });
});
P.implementService("haplo:integration-message:setup-http-request:${GROUP}", function (http, messages) {
  http.url("https://${SINK}/import").method("POST").header("X-Count", String(messages.length));
});
`,
  }, [WS]);
  assert.equal(installed.length, 1);
  const queues = await nodes[1]!.api('GET', `/api/v1/workspaces/${WS}/integration-messages`);
  assert.equal(queues.status, 200, JSON.stringify(queues.body));
  assert.equal(queues.body.sendingEnabled, true, 'both hosts share the store identity: sending is on');
  assert.deepEqual(queues.body.data.map((q: { group: string; method: string }) => [q.group, q.method]), [[GROUP, 'send']]);

  const added: number[] = [];
  const splits: number[][] = [];
  const delivered = new Map<number, number>();
  for (let round = 0; round < ROUNDS; round++) {
    // Messages added through both hosts' admin API.
    for (let k = 0; k < PER_ROUND; k++) {
      const res = await nodes[k % 2]!.api('POST', `/api/v1/workspaces/${WS}/integration-messages/${GROUP}/messages`, { data: { round, k } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      added.push(res.body.id);
    }
    const before = stub.requests.length;
    const seen = nodes.map((_, i) => fromNode(i).length);
    holding = undefined;

    const sends = nodes.map((n) => n.api('POST', `/api/v1/workspaces/${WS}/integration-messages/${GROUP}/send`));
    // A send has claimed once its POST reached the endpoint or it answered (nothing left to claim).
    const claimed = nodes.map((_, i) => Promise.race([sends[i]!.then(() => undefined), requestFrom(i, seen[i]!)]));
    await within(Promise.all(claimed), 30_000, () => `round ${round}: the two sends never both claimed; the stub got ${JSON.stringify(stub.requests.slice(before).map((r) => r.url))}`);
    const first = heldAnswer();
    assert.ok(first, `round ${round}: the first POST is held while the other send claims`);
    first.writeHead(200, { 'content-type': 'application/json' });
    first.end('{"ok":true}');

    const answers = await Promise.all(sends);
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    const sent = answers.map((a) => a.body.sent as number);
    splits.push(sent);
    assert.equal(sent[0]! + sent[1]!, PER_ROUND, `round ${round}: the two sends together sent each message once: ${JSON.stringify(sent)}`);

    const bodies = stub.requests.slice(before);
    assert.equal(bodies.length, sent.filter((n) => n > 0).length, 'one POST per send that claimed messages');
    for (const req of bodies) {
      const i = Number(/^\/n(\d)\//.exec(req.url)![1]);
      assert.equal(req.method, 'POST');
      assert.equal(req.url, `/n${i}/import`);
      assert.equal(req.headers['content-type'], 'application/json');
      const body = JSON.parse(req.body) as { version: number; token: string; messages: Array<{ id: number; datetime: string; round: number; k: number }> };
      assert.equal(body.version, 0);
      assert.equal(req.headers['x-count'], String(body.messages.length));
      assert.equal(body.messages.length, sent[i], `node ${i}'s answer counts what its POST carried`);
      assert.equal(body.token, Buffer.from(body.messages.map((m) => m.id).join(','), 'utf8').toString('base64'));
      for (const m of body.messages) {
        assert.equal(m.round, round);
        assert.match(m.datetime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        delivered.set(m.id, (delivered.get(m.id) ?? 0) + 1);
      }
    }
  }

  assert.equal(new Set(added).size, ROUNDS * PER_ROUND);
  assert.deepEqual([...delivered.keys()].sort((a, b) => a - b), [...added].sort((a, b) => a - b), 'every message was delivered');
  const twice = [...delivered].filter(([, n]) => n !== 1);
  assert.deepEqual(twice, [], 'no message was delivered twice');

  const counts = await nodes[0]!.api('GET', `/api/v1/workspaces/${WS}/integration-messages`);
  assert.deepEqual(counts.body.data.map((q: { group: string; unsent: number; sent: number; lastError: string | null }) => [q.group, q.unsent, q.sent, q.lastError]),
    [[GROUP, 0, ROUNDS * PER_ROUND, null]]);
  const unsent = await nodes[1]!.api('GET', `/api/v1/workspaces/${WS}/integration-messages/${GROUP}/messages?status=unsent`);
  assert.deepEqual(unsent.body.data, []);
  const sending = await nodes[1]!.api('GET', `/api/v1/workspaces/${WS}/integration-messages/${GROUP}/messages?status=sending`);
  assert.deepEqual(sending.body.data, []);
  t.diagnostic(`messages sent by [host 0, host 1] per round: ${JSON.stringify(splits)}`);
});
