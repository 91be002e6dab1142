// Haplo's background work and its other host APIs, as the plugins of Haplo's collection use
// them: O.background.run with P.backgroundCallback (a durable run of kind `background`, retried
// when it fails), O.httpClient(url)…request(P.callback(…), data) (the request made by the host
// under the egress policy, the response handed to the callback in a run of its own), the
// keychain and config data from the installation's settings, O.audit.write into the audit
// log, P.onLoad before the first run, and the privileges each of them needs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVirtualClock } from '../../runtime/clock.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { startStub, type StubServer } from '../helpers/stub-server.ts';

const MIN = 60_000;
const clock = createVirtualClock(Date.parse('2026-06-10T08:00:00.000Z'));

const sync = {
  'plugin.json': {
    pluginName: 'example_sync', pluginVersion: 1, apiVersion: 4,
    privilegesRequired: ['pBackgroundProcessing', 'pHTTPClient', 'pDatabase'],
    load: ['js/example_sync.js', 'js/example_sync_report.js'], respond: ['/do/example-sync'],
  },
  'js/example_sync.js': `
var loads = 0;
P.onLoad = function() { loads++; };
P.db.table("attempts", { label: {type:"text"}, at: {type:"datetime"} });

P.respond("POST", "/do/example-sync/start", [
    {parameter:"label", as:"string"}
], function(E, label) {
    O.background.run("example_sync:apply", {label: label});
    O.audit.write({auditEntryType: "example_sync:start", data: {label: label}});
    E.response.kind = 'json';
    E.response.body = {queued: true, loads: loads, mode: O.application.config.example_sync_mode};
});

P.backgroundCallback("apply", function(data) {
    P.db.attempts.create({label: data.label, at: new Date()}).save();
    var tries = P.db.attempts.select().where("label", "=", data.label).count();
    console.log("apply " + data.label + " try " + tries + " config " + O.application.config.example_sync_mode);
    if(data.label === "flaky" && tries < 3) { throw new Error("not yet (try " + tries + ")"); }
    O.httpClient("https://reports.example.com/report").
        method("POST").
        useCredentialsFromKeychain("Example reporting").
        bodyParameter("label", data.label).
        bodyParameter("tries", tries).
        request(P.Reported, {label: data.label});
});
`,
  'js/example_sync_report.js': `
// Another file: what the first uses goes through P, as a file's own variables stay its own.
P.Reported = P.callback("reported", function(data, client, response) {
    console.log("reported " + data.label + " " + response.successful + " " + response.status + " " + response.body.readAsString() + " via " + client.$requestSettings.method);
    if(!response.successful) { console.log("error " + response.errorMessage); }
});
P.respond("GET", "/do/example-sync/misuse", [], function(E) {
    var out = {};
    try { O.httpClient("https://reports.example.com/x").request("example_sync:reported", {}); } catch(e) { out.callback = e.message; }
    try { O.background.run("another_plugin:apply", {}); } catch(e) { out.name = e.message; }
    try { O.keychain.credential("Nothing here"); } catch(e) { out.keychain = e.message; }
    try { O.audit.write({data: {}}); } catch(e) { out.audit = e.message; }
    try { O.audit.write({auditEntryType: "Bad Type"}); } catch(e) { out.auditType = e.message; }
    try { O.audit.write({auditEntryType: "other_plugin:thing"}); } catch(e) { out.auditOther = e.message; }
    O.audit.write({auditEntryType: "example_sync:claimed", installationId: "someone-else"});
    E.response.kind = 'json';
    E.response.body = out;
});
`,
};

const unprivileged = {
  'plugin.json': { pluginName: 'example_plain', pluginVersion: 1, apiVersion: 4, load: ['js/plain.js'], respond: ['/do/example-plain'] },
  'js/plain.js': `
P.backgroundCallback("x", function() {});
P.respond("GET", "/do/example-plain/try", [], function(E) {
    var out = {};
    try { O.background.run("example_plain:x", {}); } catch(e) { out.background = e.message; }
    try { O.httpClient("https://reports.example.com/").request(P.callback("cb", function() {}), {}); } catch(e) { out.http = e.message; }
    E.response.kind = 'json';
    E.response.body = out;
});
`,
};

let h: TestHost;
let stub: StubServer;
let token: string;
let installationId: string;

const post = (path: string) => fetch(`${h.url}/workspaces/bg${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
const get = async (path: string) => {
  const r = await fetch(`${h.url}/workspaces/bg${path}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json() as Promise<Record<string, string>>;
};
const backgroundRuns = async () => (await h.api('GET', '/api/v1/workspaces/bg/runs?kind=background&limit=200')).body.data.reverse();
async function settle(minutes: number): Promise<void> {
  for (let i = 0; i < minutes; i++) {
    await h.host.scheduler.idle();
    await clock.advance(MIN);
  }
  await h.host.scheduler.idle();
}

before(async () => {
  let calls = 0;
  stub = await startStub((req, res) => {
    calls++;
    res.writeHead(calls === 1 ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(calls === 1 ? `thanks ${req.body}` : 'down');
  });
  h = await startHost({ clock, egressMap: { 'reports.example.com': stub.url }, schedules: { backoffMs: MIN } });
  await h.host.start();
  await h.api('POST', '/api/v1/workspaces', { id: 'bg', name: 'Background', timezone: 'UTC' });
  token = (await h.api('POST', '/api/v1/workspaces/bg/tokens', {})).body.token;
  // Haplo's config data is the workspace's.
  assert.equal((await h.api('PATCH', '/api/v1/workspaces/bg', { config: { example_sync_mode: 'nightly' } })).status, 200);
  assert.equal((await h.publish(sync)).status, 201);
  const inst = await h.api('POST', '/api/v1/workspaces/bg/installations', {
    plugin: 'example_sync',
    iparams: {
      keychain: { 'Example reporting': { kind: 'HTTP', instanceKind: 'Basic', account: { username: 'reporter' }, secret: { password: 's3cret' } } },
    },
  });
  assert.equal(inst.status, 201, JSON.stringify(inst.body));
  assert.equal(inst.body.loadError, null);
  installationId = inst.body.id;
});
after(async () => {
  await h.close();
  await stub.close();
});

test('O.background.run queues a durable job: its P.backgroundCallback runs as a background run; P.onLoad ran first; O.audit.write is in the audit log', async () => {
  const r = await post('/do/example-sync/start?label=steady');
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { queued: true, loads: 1, mode: 'nightly' });
  // Queued, not run yet: a schedule of kind background, due now.
  await settle(1);
  const runs = await backgroundRuns();
  const apply = runs.find((run: { target: string }) => run.target === 'example_sync:apply');
  assert.ok(apply, JSON.stringify(runs));
  assert.equal(apply.status, 'succeeded', JSON.stringify(apply));
  assert.equal(apply.installationId, installationId);
  assert.equal(apply.trigger, 'schedule');
  const log = (await h.api('GET', `/api/v1/workspaces/bg/runs/${apply.id}`)).body.log;
  assert.match(log, /apply steady try 1 config nightly/);
  const audit = (await h.api('GET', '/api/v1/workspaces/bg/integration-messages/audit')).body.data;
  const entry = audit.find((a: { action: string }) => a.action === 'example_sync:start');
  assert.ok(entry, JSON.stringify(audit));
  assert.equal(entry.actor, 'plugin:example_sync');
  assert.deepEqual(entry.detail, { installationId, data: { label: 'steady' } });
});

test('O.httpClient: the host makes the request (keychain credentials, form body) and runs the P.callback with the response', async () => {
  await settle(1);
  assert.equal(stub.requests.length, 1);
  const sent = stub.requests[0]!;
  assert.equal(sent.method, 'POST');
  assert.equal(sent.url, '/report');
  assert.equal(sent.headers.authorization, `Basic ${Buffer.from('reporter:s3cret').toString('base64')}`);
  assert.equal(sent.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(sent.body, 'label=steady&tries=1');
  // The credential went by name: the stored job never held the secret, and jobs are not schedules to read.
  const jobs = await h.host.store.schedules.ofInstallation(installationId, 'background');
  assert.ok(jobs.length > 0);
  assert.doesNotMatch(JSON.stringify(jobs), /s3cret|cmVwb3J0ZXI6czNjcmV0/);
  assert.equal((await h.api('GET', `/api/v1/workspaces/bg/schedules/${jobs[0]!.id}`)).status, 404);
  const callback = (await backgroundRuns()).find((run: { target: string }) => run.target.endsWith('→ example_sync:reported'));
  assert.ok(callback);
  assert.equal(callback.target, 'POST https://reports.example.com/report → example_sync:reported');
  const log = (await h.api('GET', `/api/v1/workspaces/bg/runs/${callback.id}`)).body.log;
  assert.match(log, /reported steady true 200 thanks label=steady&tries=1 via POST/);
});

test('a failing background callback is retried by the ledger until it succeeds; a failed HTTP request reaches its callback once, not retried', async () => {
  assert.equal((await post('/do/example-sync/start?label=flaky')).status, 200);
  await settle(10);
  const flaky = (await backgroundRuns()).filter((run: { target: string }) => run.target === 'example_sync:apply').slice(1);
  assert.deepEqual(flaky.map((run: { status: string; attempt: number }) => [run.status, run.attempt]), [['failed', 1], ['failed', 2], ['succeeded', 3]]);
  assert.match(flaky[0].error.message, /not yet \(try 1\)/);
  // The stub answers 503 now: the callback hears it, once.
  const reported = (await backgroundRuns()).filter((run: { target: string }) => run.target.endsWith('example_sync:reported'));
  assert.equal(reported.length, 2);
  const log = (await h.api('GET', `/api/v1/workspaces/bg/runs/${reported[1].id}`)).body.log;
  assert.match(log, /reported flaky false 503 down via POST/);
  assert.match(log, /error HTTP status 503/);
  assert.equal(stub.requests.length, 2);
});

test("O.application.config is the workspace's config data: a change is seen by the next run (a fresh isolate, P.onLoad again)", async () => {
  const bad = await h.api('PATCH', '/api/v1/workspaces/bg', { config: ['not', 'an', 'object'] });
  assert.equal(bad.status, 400);
  const changed = await h.api('PATCH', '/api/v1/workspaces/bg', { config: { example_sync_mode: 'hourly' } });
  assert.deepEqual(changed.body.config, { example_sync_mode: 'hourly' });
  const r = await post('/do/example-sync/start?label=later');
  assert.deepEqual(await r.json(), { queued: true, loads: 1, mode: 'hourly' });
  await settle(2);
});

test('misuse fails naming what is wrong', async () => {
  const out = await get('/do/example-sync/misuse');
  assert.match(out.callback!, /request\(\) must be called with a callback object obtained from P\.callback\(\)/);
  assert.match(out.name!, /name is "example_sync:<name>" for this plugin/);
  assert.match(out.keychain!, /No credential named "Nothing here"/);
  assert.match(out.audit!, /takes an entry with an auditEntryType/);
  assert.match(out.auditType!, /auditEntryType must be "example_sync:<entry_type>"/);
  assert.match(out.auditOther!, /auditEntryType must be "example_sync:<entry_type>"/);
  // The installation an entry names is the host's to say.
  const audit = (await h.api('GET', '/api/v1/workspaces/bg/integration-messages/audit')).body.data;
  assert.equal(audit.find((a: { action: string }) => a.action === 'example_sync:claimed').detail.installationId, installationId);
});

test('without pBackgroundProcessing or pHTTPClient the calls are refused naming the privilege; nothing is queued', async () => {
  assert.equal((await h.publish(unprivileged)).status, 201);
  const inst = (await h.api('POST', '/api/v1/workspaces/bg/installations', { plugin: 'example_plain' })).body;
  const out = await get('/do/example-plain/try');
  assert.match(out.background!, /O\.background\.run needs the "pBackgroundProcessing" privilege/);
  assert.match(out.http!, /O\.httpClient needs the "pHTTPClient" privilege/);
  assert.equal((await h.host.store.schedules.ofInstallation(inst.id, 'background')).length, 0);
});
