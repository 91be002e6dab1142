// Acceptance: a Haplo poll client, run as its own process, against a message queue that a
// Haplo-format plugin keeps in P.db and serves at Haplo's poll API path. Another plugin queues
// messages with O.service("haplo:integration-message:add", {group, data}); the client
// (fixtures/poll-client.ts) fetches batches of 16 with HTTP Basic haplo:<key>, marks each with
// its token and goes round until the queue is empty. Every message of its group arrives once,
// in creation order, and none of another group; the P.db rows record what was sent; a second
// run finds nothing; the host's native poll API is never used; a wrong key is 401 and a key of
// another path 403 to the client; each poll request is a run of the plugin.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { physicalName } from '../../runtime/store/plugin-tables.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { createWorkspace, install, workspaceToken } from './fixtures/haplo.ts';

const START = Date.parse('2026-09-01T08:00:00Z');
const clock = createVirtualClock(START);
const WS = 'pq';
const POLL_PATH = '/api/haplo-integration-messages/poll';
const clientPath = path.join(import.meta.dirname, 'fixtures/poll-client.ts');

/**
 * The queue, written the way Haplo's integration-messages plugin keeps one, with only what
 * plughost provides: no O.action/Group (the API key is the permission), no O.base64 (the token
 * is the comma-joined ids), no O.currentUser, no templates.
 */
const messageQueue = {
  'plugin.json': {
    pluginName: 'example_message_queue', pluginVersion: 1, apiVersion: 4, displayName: 'Example message queue',
    privilegesRequired: ['pDatabase'],
    load: ['js/queue.js', 'js/poll_api.js', 'js/status.js'],
    respond: ['/api/haplo-integration-messages', '/do/example-message-queue'],
  },
  'js/queue.js': `
var BATCH_SIZE = 16;

P.db.table("messages", {
    groupName: {type:"text", indexed:true},
    creationDate: {type:"datetime"},
    sentDate: {type:"datetime", nullable:true},
    data: {type:"json"}
});

P.implementService("haplo:integration-message:add", function(details) {
    if(!details || typeof details.group !== "string" || !details.data) { return; }
    var message = P.db.messages.create({groupName: details.group, creationDate: new Date(), data: details.data});
    message.save();
    return message.id;
});

P.unsent = function(groupName) {
    return P.db.messages.select().where("groupName", "=", groupName).where("sentDate", "=", null);
};

// The oldest unsent messages of a group as the poll API hands them out.
P.nextBatch = function(groupName) {
    var rows = P.unsent(groupName).order("creationDate").stableOrder().limit(BATCH_SIZE);
    var messages = _.map(rows, function(row) {
        return _.extend({id: row.id, datetime: row.creationDate.toISOString().replace(/\\.\\d{3}Z$/, "Z")}, row.data);
    });
    return {version: 0, token: _.pluck(messages, "id").join(","), messages: messages};
};

// Marks the messages a token names, if they are of the group and still unsent.
P.markSent = function(groupName, token) {
    var marked = 0;
    var now = new Date();
    _.each(token.split(","), function(part) {
        if(!/^[0-9]+$/.test(part)) { return; }
        var rows = P.unsent(groupName).where("id", "=", parseInt(part, 10)).limit(1);
        if(rows.length) {
            rows[0].sentDate = now;
            rows[0].save();
            marked++;
        }
    });
    return {markedCount: marked, unreadCount: P.unsent(groupName).count()};
};
`,
  'js/poll_api.js': `
P.respond("GET,POST", "/api/haplo-integration-messages/poll", [
    {pathElement:0, as:"string", validate:/^[a-z0-9_-]{1,64}$/},
    {pathElement:1, as:"string", validate:function(a) { return a === "fetch" || a === "mark"; }},
    {parameter:"token", as:"string", optional:true}
], function(E, groupName, action, token) {
    E.response.kind = "json";
    E.response.headers["Cache-Control"] = "no-store";
    if(action === "mark") {
        if(token === undefined) {
            E.response.statusCode = 400;
            E.response.body = {error: "give the token of the fetched batch"};
            return;
        }
        E.response.body = P.markSent(groupName, token);
    } else {
        E.response.body = P.nextBatch(groupName);
    }
});
`,
  'js/status.js': `
P.respond("GET", "/do/example-message-queue/status", [
    {pathElement:0, as:"string"}
], function(E, groupName) {
    E.response.kind = "json";
    E.response.body = {
        unsent: P.unsent(groupName).count(),
        sent: P.db.messages.select().where("groupName", "=", groupName).where("sentDate", "<>", null).count()
    };
});
`,
};

/** Another plugin of the workspace, queueing a message through the service, as Haplo plugins do. */
const messageSource = {
  'plugin.json': {
    pluginName: 'example_message_source', pluginVersion: 1, apiVersion: 4,
    load: ['js/source.js'], respond: ['/do/example-message-source'],
  },
  'js/source.js': `
P.respond("POST", "/do/example-message-source/add", [
    {parameter:"group", as:"string"},
    {parameter:"seq", as:"int"}
], function(E, group, seq) {
    var id = O.service("haplo:integration-message:add", {group: group, data: {seq: seq, student: "S" + (1000 + seq)}});
    E.response.kind = "json";
    E.response.body = {id: id};
});
`,
};

interface Line { batch?: number; count?: number; messages?: Array<{ id: number; datetime: string; seq: number; student: string }>; markedCount?: number; unreadCount?: number; fetchRun?: string; markRun?: string; summary?: Record<string, unknown>; error?: { request?: string; status?: number; body?: string; message?: string } }
interface ClientRun { code: number | null; lines: Line[]; stderr: string }

/** Runs the poll client to its end, as another system would run it. */
function pollClient(group: string, key: string, extra: string[] = []): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-node-snapshot', clientPath, '--url', h.url, '--workspace', WS, '--group', group, ...extra], {
      env: { ...process.env, HAPLO_POLL_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, lines: stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line), stderr });
      } catch (err) {
        reject(new Error(`the client printed something other than JSON lines: ${stdout}\n${stderr}`, { cause: err }));
      }
    });
  });
}

let h: TestHost;
let token: string;
let queueId: string;
let sourceId: string;
let pollKey: string;
let otherKey: string;
/** What was queued, in creation order: id, group, seq and creation time. */
const queued: Array<{ id: number; group: string; seq: number; at: number }> = [];

const table = () => h.host.store.db(physicalName(queueId, 'messages'));
/**
 * A time plugin code took with `new Date()`: the virtual clock as it was when the run was
 * dispatched, plus the real milliseconds the run has taken since (guest/globals.js), so within
 * the second the test set.
 */
const assertAt = (actual: unknown, clockMs: number, what: string) => {
  const ms = Number(actual);
  assert.ok(ms >= clockMs && ms < clockMs + 1000, `${what}: ${new Date(ms).toISOString()} is within a second after ${new Date(clockMs).toISOString()}`);
};
/** The later tests need the messages in the plugin's table, which the first test checks. */
const assertQueuedInPlugin = async () => {
  const exists = await h.host.store.db.schema.hasTable(physicalName(queueId, 'messages'));
  const n = exists ? Number((await table().count({ n: '*' }).first())?.n ?? 0) : 0;
  assert.equal(n, 40, 'precondition: the 40 queued messages are rows of the plugin\'s P.db table (see the first test)');
};
const runsOf = async (installation: string) => {
  const res = await h.api('GET', `/api/v1/workspaces/${WS}/runs?kind=route&installation=${installation}&limit=200`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data as Array<{ id: string; target: string; status: string }>;
};
const status = async (group: string) => {
  const res = await fetch(`${h.url}/workspaces/${WS}/do/example-message-queue/status/${group}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text) as { unsent: number; sent: number };
};

before(async () => {
  h = await startHost({ clock });
  await createWorkspace(h, WS);
  token = await workspaceToken(h, WS);
  for (const plugin of [messageQueue, messageSource]) {
    const res = await h.publish(plugin);
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  queueId = await install(h, WS, 'example_message_queue');
  sourceId = await install(h, WS, 'example_message_source');
  for (const id of [queueId, sourceId]) {
    const inst = (await h.api('GET', `/api/v1/workspaces/${WS}/installations/${id}`)).body;
    assert.equal(inst.loadError, null, JSON.stringify(inst.loadError));
  }
  const keys = [];
  for (const [name, keyPath] of [['student records', '/api/haplo-integration-messages'], ['reports', '/api/example-reports']]) {
    const res = await h.api('POST', `/api/v1/workspaces/${WS}/api-keys`, { name, path: keyPath });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    keys.push(res.body.key as string);
  }
  [pollKey, otherKey] = keys as [string, string];
});
after(async () => { await h.close(); });

test('messages queued with O.service("haplo:integration-message:add") from another plugin are rows of the queue plugin\'s P.db table', async () => {
  // 40 messages, 25 student and 15 finance, interleaved, a second apart.
  for (let seq = 0; seq < 40; seq++) {
    const group = seq % 8 < 5 ? 'student' : 'finance';
    await clock.set(START + seq * 1000);
    const res = await fetch(`${h.url}/workspaces/${WS}/do/example-message-source/add`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ group, seq: String(seq) }).toString(),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `add ${seq}: ${text}`);
    const { id } = JSON.parse(text) as { id: number };
    assert.ok(Number.isInteger(id), `add ${seq} answered an id: ${text}`);
    queued.push({ id, group, seq, at: START + seq * 1000 });
  }
  assert.equal(new Set(queued.map((q) => q.id)).size, 40);

  // Haplo calls the service's implementations: the queue plugin's, which keeps the message in
  // its P.db table; the host's built-in queue (for workspaces without such a plugin) keeps none.
  const native = await h.api('GET', `/api/v1/workspaces/${WS}/integration-messages`);
  assert.equal(native.status, 200, JSON.stringify(native.body));
  const rows = await h.host.store.db.schema.hasTable(physicalName(queueId, 'messages'))
    ? await table().select('id', 'groupname', 'creationdate', 'sentdate', 'data').orderBy('id') : [];
  assert.equal(rows.length, 40, `the plugin's P.db table holds the 40 messages; the host's built-in queues hold ${JSON.stringify(native.body.data)}`);
  assert.deepEqual(native.body.data, [], 'the host\'s built-in queues stay empty');
  assert.deepEqual(rows.map((r: { id: number }) => Number(r.id)), queued.map((q) => q.id), 'each id O.service answered is a row of the plugin\'s table');
  for (const [i, r] of rows.entries()) {
    assert.equal(r.groupname, queued[i]!.group);
    assertAt(r.creationdate, queued[i]!.at, `row ${r.id}'s creationDate`);
    assert.equal(r.sentdate, null);
    assert.deepEqual(JSON.parse(r.data), { seq: i, student: `S${1000 + i}` });
  }
  assert.deepEqual(await status('student'), { unsent: 25, sent: 0 });
  assert.deepEqual(await status('finance'), { unsent: 15, sent: 0 });
});

test('the poll client drains its group: batches of 16, each message once and in creation order, none of another group; the rows record the send', async () => {
  await assertQueuedInPlugin();
  await clock.set(START + 3_600_000);
  const run = await pollClient('student', pollKey);
  assert.equal(run.code, 0, `${JSON.stringify(run.lines)}\n${run.stderr}`);
  const batches = run.lines.filter((l) => l.batch !== undefined);
  assert.deepEqual(batches.map((b) => [b.count, b.markedCount, b.unreadCount]), [[16, 16, 9], [9, 9, 0]]);

  const student = queued.filter((q) => q.group === 'student');
  const received = batches.flatMap((b) => b.messages!);
  assert.deepEqual(received.map((m) => m.id), student.map((q) => q.id), 'every student message once, in creation order');
  assert.deepEqual(received.map((m) => m.seq), student.map((q) => q.seq));
  assert.deepEqual(received.map((m) => m.datetime), student.map((q) => new Date(q.at).toISOString().replace(/\.000Z$/, 'Z')));
  assert.deepEqual(received[0], { id: student[0]!.id, datetime: '2026-09-01T08:00:00Z', seq: 0, student: 'S1000' });
  const summary = run.lines.at(-1)!.summary;
  assert.deepEqual(summary, { group: 'student', batches: 2, messages: 25, requests: 4, unreadCount: 0 });

  // The P.db rows: exactly the student ones are sent, at the client's hour.
  const rows = await table().select('id', 'groupname', 'sentdate').orderBy('id');
  for (const r of rows) {
    if (r.groupname === 'student') assertAt(r.sentdate, START + 3_600_000, `row ${r.id}'s sentDate`);
    else assert.equal(r.sentdate, null, `row ${r.id} of ${r.groupname} is unsent`);
  }
  assert.deepEqual(await status('student'), { unsent: 0, sent: 25 });
  assert.deepEqual(await status('finance'), { unsent: 15, sent: 0 });

  // Each poll request is a run of the queue plugin (kind route), never the host's own poll API.
  const runs = new Map((await runsOf(queueId)).map((r) => [r.id, r]));
  for (const b of batches) {
    for (const [id, target] of [[b.fetchRun, `GET ${POLL_PATH}/student/fetch`], [b.markRun, `POST ${POLL_PATH}/student/mark`]] as const) {
      assert.ok(id, `batch ${b.batch}: the answer named its run`);
      const r = runs.get(id);
      assert.ok(r, `run ${id} (${target}) is in the queue plugin's run log`);
      assert.deepEqual([r.target, r.status], [target, 'succeeded']);
    }
  }
  const native = await h.api('GET', `/api/v1/workspaces/${WS}/integration-messages`);
  assert.deepEqual(native.body.data, []);
});

test('a second run of the client finds the queue empty and marks nothing', async () => {
  await assertQueuedInPlugin();
  const before = await runsOf(queueId);
  const run = await pollClient('student', pollKey);
  assert.equal(run.code, 0, `${JSON.stringify(run.lines)}\n${run.stderr}`);
  assert.equal(run.lines.length, 1, JSON.stringify(run.lines));
  const summary = run.lines[0]!.summary as Record<string, unknown>;
  assert.deepEqual({ ...summary, emptyFetchRun: undefined }, { group: 'student', batches: 0, messages: 0, requests: 1, unreadCount: 0, emptyFetchRun: undefined });
  const after = await runsOf(queueId);
  assert.equal(after.length, before.length + 1);
  assert.deepEqual([after[0]!.id, after[0]!.target, after[0]!.status], [summary.emptyFetchRun, `GET ${POLL_PATH}/student/fetch`, 'succeeded']);
  assert.deepEqual(await status('student'), { unsent: 0, sent: 25 });
});

test('the client stops with the status of a refused request: a wrong key is 401, a key of another path 403, and neither is a run', async () => {
  await assertQueuedInPlugin();
  const before = await runsOf(queueId);
  const wrong = await pollClient('finance', 'pha_not-a-key-of-this-host-0123456789');
  assert.equal(wrong.code, 1, JSON.stringify(wrong.lines));
  assert.equal(wrong.lines.length, 1, JSON.stringify(wrong.lines));
  assert.deepEqual([wrong.lines[0]!.error!.request, wrong.lines[0]!.error!.status], [`GET /workspaces/${WS}${POLL_PATH}/finance/fetch`, 401]);
  assert.equal(JSON.parse(wrong.lines[0]!.error!.body!).error.code, 'UNAUTHORIZED');
  assert.match(wrong.stderr, /answered 401/);

  const other = await pollClient('finance', otherKey);
  assert.equal(other.code, 1, JSON.stringify(other.lines));
  assert.deepEqual([other.lines[0]!.error!.status, JSON.parse(other.lines[0]!.error!.body!).error.code], [403, 'FORBIDDEN']);
  assert.match(other.stderr, /answered 403/);

  assert.equal((await runsOf(queueId)).length, before.length, 'refused requests record no run');
  assert.deepEqual(await status('finance'), { unsent: 15, sent: 0 });
});

test('the other group drains the same way with the token marked as ?token=', async () => {
  await assertQueuedInPlugin();
  await clock.set(START + 7_200_000);
  const run = await pollClient('finance', pollKey, ['--mark', 'query']);
  assert.equal(run.code, 0, `${JSON.stringify(run.lines)}\n${run.stderr}`);
  const received = run.lines.filter((l) => l.batch !== undefined).flatMap((l) => l.messages!);
  assert.deepEqual(received.map((m) => m.id), queued.filter((q) => q.group === 'finance').map((q) => q.id));
  const rows = await table().select('groupname', 'sentdate');
  for (const r of rows) assertAt(r.sentdate, START + (r.groupname === 'student' ? 3_600_000 : 7_200_000), `a ${r.groupname} row's sentDate`);
  // The source plugin's adds were its own runs; the queue plugin's P.db served them all.
  assert.equal((await runsOf(sourceId)).length, 40);
});
