// Haplo plugins in Haplo's own layout: a plugin.json with pluginName, pluginVersion and a `load`
// list evaluated in order with P, O, _ (Underscore) and XDate in scope, the plugin object also
// under its own name; Haplo APIs plughost does not provide fail naming the API; a plugin whose
// code fails to load is a broken installation, and says so. Written the way the plugins of
// Haplo's public collection are.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';

const digest = {
  'plugin.json': {
    pluginName: 'example_digest', pluginAuthor: 'Example', pluginVersion: 3, displayName: 'Example Digest',
    displayDescription: 'Sends a digest', apiVersion: 4, privilegesRequired: ['pHTTPClient'],
    load: ['js/example_digest.js', 'js/example_digest_hooks.js', 'js/example_digest_respond.js'],
    respond: ['/do/example-digest'],
  },
  'js/example_digest.js': `
var QUEUE = 'digest';           // this file's own
P.formatLine = function (item) {
    return _.template("<%= name %>: <%= count %>")(item);
};
P.sorted = function (items) {
    return _.sortBy(items, function (i) { return -i.count; });
};
`,
  'js/example_digest_hooks.js': `
P.hook('hScheduleDailyEarly', function (response, year, month, dayOfMonth, hour, dayOfWeek) {
    var when = new XDate(year, month, dayOfMonth, hour);
    var lines = _.map(example_digest.sorted([{name: 'b', count: 1}, {name: 'a', count: 5}]), P.formatLine);
    console.log(when.toString('yyyy-MM-dd HH:00') + ' ' + lines.join(', ') + ' ' + (typeof QUEUE));
    console.log('app ' + O.application.name + ' ' + O.application.hostname + ' ' + O.application.url + ' ' + JSON.stringify(O.application.config));
});
P.implementService('example:digest:lines', function () { return _.range(3); });
`,
  'js/example_digest_respond.js': `
P.respond("GET", "/do/example-digest/summary", [
    {pathElement:0, as:"string"},
    {parameter:"limit", as:"int", optional:true}
], function(E, name, limit) {
    E.response.kind = 'json';
    E.response.body = {name: name, limit: limit === undefined ? null : limit, method: E.request.method, extra: E.request.extraPathElements};
});
P.respond("GET", "/do/example-digest/stop", [], function(E) {
    if(O.application.config.example_digest_enabled !== true) { O.stop("Digests are not enabled here"); }
    E.response.body = "enabled";
});
P.respond("GET", "/do/example-digest/admin", [], function(E) {
    var admins = Group.Administrators;   // a schema constant: fine to name
    E.response.body = String(admins);    // …but using it needs the object store
});
P.respond("GET", "/do/example-digest/export", [], function(E) {
    E.response.body = O.binaryData(JSON.stringify({lines: 2}), {mimeType: "application/json", filename: "export.json"});
});
P.respond("GET,POST", "/do/example-digest/items", [
    {parameter:"kind", as:"string", validate: function (k) { return k === "daily" || k === "weekly"; }},
    {body:"body", as:"json", optional:true}
], function(E, kind, body) {
    if(E.request.method === "GET") { return E.response.redirect("/do/example-digest/summary/" + kind); }
    E.response.statusCode = 201;
    E.response.kind = 'text';
    E.response.headers["X-Items"] = String(body.items.length);
    E.response.body = kind + ": " + body.items.join(",");
});
`,
};

const broken = {
  'plugin.json': { pluginName: 'example_tables', pluginVersion: 1, apiVersion: 4, load: ['js/example_tables.js'], privilegesRequired: [] },
  'js/example_tables.js': `
P.hook('hScheduleHourly', function () {});
P.workflow.implementWorkflow(P.workUnitTypes.application);
`,
};

const lateUse = {
  'plugin.json': { pluginName: 'example_late', pluginVersion: 1, apiVersion: 4, load: ['js/example_late.js'] },
  'js/example_late.js': `
P.hook('hScheduleHourly', function () { var perms = O.PERM_READ | O.PERM_CREATE; return perms; });
P.hook('hScheduleDailyMidday', function () { O.query().link(1).execute(); });
`,
};

let h: TestHost;
const hook = (id: string, name: string) => h.api('POST', `/api/v1/workspaces/hf/installations/${id}/hooks/${name}`, { at: '2026-06-10T06:00:00Z' });

before(async () => {
  h = await startHost();
  await h.api('POST', '/api/v1/workspaces', { id: 'hf', name: 'Haplo format', timezone: 'UTC' });
});
after(async () => { await h.close(); });

test("Haplo's plugin.json publishes: the name and namespace from pluginName, pluginVersion 3 is 3.0.0", async () => {
  const r = await h.publish(digest);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body, { name: 'example_digest', version: '3.0.0', namespace: 'example_digest', displayName: 'Example Digest' });
  const manifest = (await h.api('GET', '/api/v1/plugins/example_digest')).body.versions[0].manifest;
  assert.deepEqual(manifest.haplo, {
    pluginName: 'example_digest', load: ['js/example_digest.js', 'js/example_digest_hooks.js', 'js/example_digest_respond.js'], respond: ['/do/example-digest'], privileges: ['pHTTPClient'], depend: [],
  });
});

test('the load files run in order with P, O, _ and XDate; the plugin object is also a global of its name', async () => {
  const inst = (await h.api('POST', '/api/v1/workspaces/hf/installations', { plugin: 'example_digest' })).body;
  assert.equal(inst.loadError, null);
  const r = await hook(inst.id, 'hScheduleDailyEarly');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.run.status, 'succeeded', JSON.stringify(r.body.run));
  const run = (await h.api('GET', `/api/v1/workspaces/hf/runs/${r.body.run.id}`)).body;
  // A file's own `var` stays its own: the second file does not see QUEUE.
  assert.match(run.log, /2026-06-10 06:00 a: 5, b: 1 undefined/);
  // O.application is the workspace.
  assert.match(run.log, /app Haplo format hf\.plughost\.local https:\/\/hf\.plughost\.local \{\}/);
});

test('an unsupported Haplo API at load time makes a broken installation that says why', async () => {
  assert.equal((await h.publish(broken)).status, 201);
  const inst = (await h.api('POST', '/api/v1/workspaces/hf/installations', { plugin: 'example_tables' })).body;
  assert.equal(inst.active, true);
  assert.deepEqual(inst.loadError?.code, 'PLUGIN_LOAD_ERROR');
  assert.match(inst.loadError.message, /P\.workflow\.implementWorkflow is not provided by plughost/);
  const again = await h.api('GET', `/api/v1/workspaces/hf/installations/${inst.id}`);
  assert.match(again.body.loadError.message, /P\.workflow\.implementWorkflow is not provided/);
  // Its hook was registered before the failing line, yet the hook says the installation is broken.
  const r = await hook(inst.id, 'hScheduleDailyEarly');
  assert.equal(r.status, 500);
  assert.equal(r.body.error.code, 'PLUGIN_LOAD_ERROR');
  assert.match(r.body.error.message, /is broken: its code failed to load \(.*P\.workflow\.implementWorkflow is not provided/);
});

test('an unsupported API used at run time fails that run naming it, even when used as a value', async () => {
  assert.equal((await h.publish(lateUse)).status, 201);
  const inst = (await h.api('POST', '/api/v1/workspaces/hf/installations', { plugin: 'example_late' })).body;
  assert.equal(inst.loadError, null);
  const asValue = await hook(inst.id, 'hScheduleHourly');
  assert.equal(asValue.body.run.status, 'failed');
  assert.match(asValue.body.run.error.message, /O\.PERM_READ is not provided by plughost/);
  const called = await hook(inst.id, 'hScheduleDailyMidday');
  assert.match(called.body.run.error.message, /O\.query is not provided by plughost/);
});

test("a Haplo plugin.json's own problems are named by its fields", async () => {
  const r = await h.publish({
    'plugin.json': { pluginName: 'example_bad', pluginVersion: 'one', load: ['js/missing.js'], respond: ['/elsewhere/x'] },
  });
  assert.equal(r.status, 422);
  assert.deepEqual(r.body.error.details.map((d: { path: string }) => d.path).sort(), ['load[0]', 'pluginVersion', 'respond[0]']);
  assert.match(r.body.error.message, /the Haplo plugin.json has 3 problems/);
});

test('P.respond under /workspaces/:ws/do: path elements, typed parameters, JSON bodies, statuses, headers, redirects; each a run', async () => {
  const token = (await h.api('POST', '/api/v1/workspaces/hf/tokens', {})).body.token;
  const get = (p: string, init: RequestInit = {}, auth: string | null = token) =>
    fetch(`${h.url}/workspaces/hf${p}`, { redirect: 'manual', ...init, headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(init.headers ?? {}) } });
  const summary = await get('/do/example-digest/summary/weekly/x?limit=5');
  assert.equal(summary.status, 200);
  assert.match(summary.headers.get('content-type')!, /application\/json/);
  assert.deepEqual(await summary.json(), { name: 'weekly', limit: 5, method: 'GET', extra: ['weekly', 'x'] });
  const runId = summary.headers.get('x-plughost-run')!;
  const run = (await h.api('GET', `/api/v1/workspaces/hf/runs/${runId}`)).body;
  assert.deepEqual([run.kind, run.target, run.status], ['route', 'GET /do/example-digest/summary/weekly/x', 'succeeded']);

  assert.equal((await get('/do/example-digest/summary/weekly?limit=many')).status, 400);
  assert.match(await (await get('/do/example-digest/summary')).text(), /missing path element 0/);
  const posted = await get('/do/example-digest/items?kind=daily', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: ['a', 'b'] }) });
  assert.equal(posted.status, 201);
  assert.equal(posted.headers.get('x-items'), '2');
  assert.equal(await posted.text(), 'daily: a,b');
  const moved = await get('/do/example-digest/items?kind=weekly');
  assert.equal(moved.status, 302);
  assert.equal(moved.headers.get('location'), '/do/example-digest/summary/weekly');
  assert.match(await (await get('/do/example-digest/items?kind=hourly')).text(), /parameter kind is not valid/);
  // O.stop ends the request with its message; schema globals like Group fail naming themselves.
  const stop = await get('/do/example-digest/stop');
  assert.equal(stop.status, 400);
  assert.equal(await stop.text(), 'Digests are not enabled here');
  const admin = await get('/do/example-digest/admin');
  assert.equal(admin.status, 500);
  assert.match(await admin.text(), /Group\.Administrators is not provided by plughost/);
  // A BinaryData body goes out as it is, with its MIME type (Haplo's poll API answers so).
  const exported = await get('/do/example-digest/export');
  assert.match(exported.headers.get('content-type')!, /^application\/json/);
  assert.equal(await exported.text(), '{"lines":2}');
  assert.equal((await get('/do/example-digest/nothing-here')).status, 404);
  assert.equal((await get('/do/example-digest/summary/x', { method: 'DELETE' })).status, 405);
  // Outside every declared root, and without a token of the workspace.
  const elsewhere = await get('/do/another-plugin/x');
  assert.equal(elsewhere.status, 404);
  assert.equal(((await elsewhere.json()) as { error: { code: string } }).error.code, 'ROUTE_NOT_FOUND');
  assert.equal((await get('/do/example-digest/summary/x', {}, null)).status, 401);
  await h.api('POST', '/api/v1/workspaces', { id: 'hf-other', name: 'other' });
  const otherToken = (await h.api('POST', '/api/v1/workspaces/hf-other/tokens', {})).body.token;
  assert.equal((await get('/do/example-digest/summary/x', {}, otherToken)).status, 403);
});
