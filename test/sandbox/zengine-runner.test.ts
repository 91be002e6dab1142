// What Zengine's runner gives a service: the `baseurl` and `authorization` headers, read by the
// `lib/zn-http.js` a Zengine draft ships (a requestify wrapper that keeps them for later
// `znHttp()` calls), so that file works unchanged; `options.params` as the query of a
// workspace path (paging as @zenginehq/backend-http does it); and records by id: GET, PUT,
// DELETE. The plugins are written the way Zengine's drafts and helper libraries are.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';

// In the style of the draft's wrapper: module-level headers, set by parseHeaders(req).
const draftZnHttp = `var requestify = require('requestify');
var headers = { baseurl: null, authorization: null };

module.exports = function (req) {
  var send = function (method, url, options, data) {
    options = options || {};
    options.headers = options.headers || {};
    options.headers.Authorization = headers.authorization;
    options.method = method;
    if (data) options.body = data;
    return requestify.request(headers.baseurl + url, options);
  };
  this.parseHeaders = function () {
    for (var name in headers) {
      if (req.headers[name]) { headers[name] = req.headers[name]; delete req.headers[name]; }
    }
    return true;
  };
  this.get = function (url, options) { return send('GET', url, options); };
  this.post = function (url, data, options) { return send('POST', url, options, data); };
  this.put = function (url, data, options) { return send('PUT', url, options, data); };
  this.del = function (url, options) { return send('DELETE', url, options); };
  return this;
};
`;

const draft = {
  'plugin.json': { name: 'zn-draft', version: '1.0.0', namespace: 'draft', services: [{ route: 'tasks', main: 'plugin.js' }] },
  'lib/zn-http.js': draftZnHttp,
  'plugin.js': `var znHttp = require('./lib/zn-http');

exports.run = function (eventData) {
  var q = eventData.request.query;
  var path = '/forms/' + q.form + '/records' + (q.record ? '/' + q.record : '');
  var done = function (response) { eventData.response.status(200).send(response.getBody()); };
  var failed = function (error) { eventData.response.status(error.getCode()).send(error.getBody()); };
  if (eventData.request.method === 'GET') znHttp().get(path).then(done, failed);
  else if (eventData.request.method === 'PUT') znHttp().put(path, eventData.request.body).then(done, failed);
  else if (eventData.request.method === 'DELETE') znHttp().del(path).then(done, failed);
  else eventData.response.status(200).send({ sawBaseurl: eventData.request.headers.baseurl === undefined ? 'taken by zn-http' : 'left' });
};
`,
};

// In the style of @zenginehq/backend-http's fetchBatched: pages through with options.params.
const batched = {
  'plugin.json': { name: 'zn-batched', version: '1.0.0', namespace: 'batched', services: [{ route: 'all', main: 'plugin.js' }] },
  'lib/zn-http.js': "module.exports = require('zn-http');",
  'plugin.js': `var znHttp = require('./lib/zn-http')();

function fetchBatched(path, params) {
  function getPage(page, results, limit) {
    return znHttp.get(path, { params: Object.assign({}, params, { limit: limit, page: page }) }).then(function (response) {
      var body = response.getBody();
      results = results.concat(body.data);
      return body.totalCount > page * limit ? getPage(page + 1, results, limit) : results;
    });
  }
  return getPage(1, [], params.limit || 20);
}

exports.run = function (eventData) {
  fetchBatched('/forms/' + eventData.request.query.form + '/records', { limit: 10 }).then(function (records) {
    eventData.response.send({ count: records.length, unique: new Set(records.map(function (r) { return r.id; })).size });
  });
};
`,
};

// Like Zengine's labs plugins, reading settings from znFirebase().
const firebaseUser = {
  'plugin.json': { name: 'zn-firebase-user', version: '1.0.0', namespace: 'fb', services: [{ route: 'settings', main: 'plugin.js' }] },
  'plugin.js': `exports.run = function (eventData) {
  znFirebase().child(eventData.request.params.workspaceId + '/settings').once('value', function (s) { eventData.response.send(s.val()); });
};`,
};

let h: TestHost;
let formId: number;
const ids: number[] = [];

before(async () => {
  h = await startHost();
  await h.api('POST', '/api/v1/workspaces', { id: 'zn', name: 'Zengine' });
  formId = (await h.api('POST', '/api/v1/workspaces/zn/forms', { name: 'Tasks' })).body.data.id;
  for (let i = 1; i <= 25; i++) ids.push((await h.api('POST', `/api/v1/workspaces/zn/forms/${formId}/records`, { name: `task ${i}`, fields: { field1: i } })).body.data.id);
  for (const plugin of [draft, batched, firebaseUser]) {
    const { name } = (await h.publish(plugin)).body;
    assert.equal((await h.api('POST', '/api/v1/workspaces/zn/installations', { plugin: name })).status, 201);
  }
});
after(async () => { await h.close(); });

test("a draft's own lib/zn-http.js reads the runner's headers and reaches the workspace's records", async () => {
  const list = await fetch(`${h.url}/workspaces/zn/draft/tasks?form=${formId}`);
  assert.equal(list.status, 200);
  const body = await list.json() as { totalCount: number; data: Array<{ name: string }> };
  assert.equal(body.totalCount, 25);
  assert.equal(body.data[0]!.name, 'task 1');
  // As Zengine's runner does, parseHeaders takes baseurl and authorization off the request.
  const seen = await (await fetch(`${h.url}/workspaces/zn/draft/tasks`, { method: 'POST' })).json();
  assert.deepEqual(seen, { sawBaseurl: 'taken by zn-http' });
});

test('records by id: GET, PUT (fields merge, null removes) and DELETE, through the draft wrapper', async () => {
  const id = ids[2]!;
  const one = await (await fetch(`${h.url}/workspaces/zn/draft/tasks?form=${formId}&record=${id}`)).json() as { data: Record<string, unknown> };
  assert.deepEqual([one.data.id, one.data.name, one.data.field1], [id, 'task 3', 3]);
  const put = await fetch(`${h.url}/workspaces/zn/draft/tasks?form=${formId}&record=${id}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'task three', field2: 'urgent', field1: null }),
  });
  assert.equal(put.status, 200);
  const changed = (await h.api('GET', `/api/v1/workspaces/zn/forms/${formId}/records/${id}`)).body.data;
  assert.deepEqual([changed.name, changed.field1, changed.field2], ['task three', undefined, 'urgent']);
  const gone = await fetch(`${h.url}/workspaces/zn/draft/tasks?form=${formId}&record=${ids[24]}`, { method: 'DELETE' });
  assert.equal(gone.status, 200);
  const missing = await fetch(`${h.url}/workspaces/zn/draft/tasks?form=${formId}&record=${ids[24]}`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'RECORD_NOT_FOUND');
  ids.pop();
});

test('options.params pages a workspace path: 24 records in pages of 10 are 24 unique ones', async () => {
  const res = await (await fetch(`${h.url}/workspaces/zn/batched/all?form=${formId}`)).json();
  assert.deepEqual(res, { count: ids.length, unique: ids.length });
});

test('the admin API serves records by id too; a PUT to a record of another workspace is 404', async () => {
  await h.api('POST', '/api/v1/workspaces', { id: 'zn-other', name: 'Other' });
  const r = await h.api('PUT', `/api/v1/workspaces/zn-other/forms/${formId}/records/${ids[0]}`, { name: 'stolen' });
  assert.equal(r.status, 404);
  assert.equal((await h.api('GET', `/api/v1/workspaces/zn/forms/${formId}/records/${ids[0]}`)).body.data.name, 'task 1');
  const bad = await h.api('PUT', `/api/v1/workspaces/zn/forms/${formId}/records/${ids[0]}`, { name: '' });
  assert.equal(bad.status, 400);
});

test('znFirebase() fails the run with an error that names the replacement', async () => {
  const res = await fetch(`${h.url}/workspaces/zn/fb/settings`);
  assert.equal(res.status, 500);
  const run = (await h.api('GET', `/api/v1/workspaces/zn/runs/${res.headers.get('x-plughost-run')}`)).body;
  assert.match(run.error.message, /znFirebase is not available on plughost: keep settings in installation parameters/);
});
