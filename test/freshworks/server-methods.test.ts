// Server method invocation (SMI): POST /workspaces/:ws/:ns/smi/:name runs an exported function
// of an FDK app and answers as FDK's client.request.invoke resolves or rejects, with what the
// function gave renderData. The app below is written the way FDK's own sample apps are:
// `exports = {…}`, handlers that start a promise chain and answer from inside it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';

const app = {
  'manifest.json': {
    'platform-version': '2.3',
    product: {
      freshdesk: {
        functions: { saveNote: { timeout: 5 }, notesOf: {}, refuse: {}, crash: {}, silent: {}, twice: {}, slow: { timeout: 1 }, whoAmI: {} },
      },
    },
  },
  'server/server.js': `
function notesKey(agentId) { return 'notes:' + agentId; }
exports = {
  saveNote: async function (request) {
    $db.update(notesKey(request.agentId), 'append', { notes: [request.note] }).then(
      function (data) { renderData(null, data); },
      function (error) { renderData(error); }
    );
  },
  notesOf: function (request) {
    $db.get(notesKey(request.agentId)).then(
      function (data) { renderData(null, data.notes); },
      function () { renderData(null, []); }
    );
  },
  refuse: function () { renderData({ status: 403, message: 'agents may not do that' }); },
  crash: async function () { throw new Error('the database caught fire'); },
  silent: async function (request) { return { echoed: request.value }; },
  twice: function () { renderData(null, 'first'); renderData(null, 'second'); },
  slow: function () { setTimeout(function () { renderData(null, 'too late'); }, 5000); },
  whoAmI: function (request) { renderData(null, { iparams: request.iparams, agentId: request.agentId }); }
};`,
  'config/iparams.json': { region: { display_name: 'Region', type: 'text', default_value: 'eu' } },
};

let h: TestHost;
let token: string;
const smi = (name: string, args: unknown, auth: string | null = token) => h.api('POST', `/workspaces/smi-ws/notes/smi/${name}`, args, auth);

before(async () => {
  h = await startHost();
  assert.equal((await h.publish(app, { name: 'notes' })).status, 201);
  await h.api('POST', '/api/v1/workspaces', { id: 'smi-ws', name: 'SMI' });
  await h.api('POST', '/api/v1/workspaces', { id: 'other-ws', name: 'Other' });
  assert.equal((await h.api('POST', '/api/v1/workspaces/smi-ws/installations', { plugin: 'notes' })).status, 201);
  token = (await h.api('POST', '/api/v1/workspaces/smi-ws/tokens', {})).body.token;
});
after(async () => { await h.close(); });

test('renderData(null, data) answers 200 {requestID, response}; the data persists between calls', async () => {
  const first = await smi('saveNote', { agentId: 7, note: 'call back Tuesday' });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.response, { Updated: true });
  assert.match(first.body.requestID, /^run_/);
  assert.equal(first.headers.get('x-plughost-run'), first.body.requestID);
  await smi('saveNote', { agentId: 7, note: 'send invoice' });
  assert.deepEqual((await smi('notesOf', { agentId: 7 })).body.response, ['call back Tuesday', 'send invoice']);
  assert.deepEqual((await smi('notesOf', { agentId: 8 })).body.response, []);
  const run = await h.api('GET', `/api/v1/workspaces/smi-ws/runs/${first.body.requestID}`);
  assert.deepEqual([run.body.kind, run.body.target, run.body.trigger, run.body.status], ['smi', 'saveNote', 'http', 'succeeded']);
});

test('renderData({status, message}) answers that status with FDK\'s error shape', async () => {
  const r = await smi('refuse', {});
  assert.equal(r.status, 403);
  assert.deepEqual(r.body, { requestID: r.body.requestID, status: 403, message: 'agents may not do that' });
  const run = await h.api('GET', `/api/v1/workspaces/smi-ws/runs/${r.body.requestID}`);
  assert.equal(run.body.status, 'failed');
});

test('a function that throws answers 500 with its message; one over its own timeout answers 504', async () => {
  const crashed = await smi('crash', {});
  assert.equal(crashed.status, 500);
  assert.equal(crashed.body.message, 'Error: the database caught fire');
  const slow = await smi('slow', {});
  assert.equal(slow.status, 504);
  assert.match(slow.body.message, /within 1000 ms/);
});

test('without renderData the resolved value answers; a second renderData changes nothing and is logged', async () => {
  assert.deepEqual((await smi('silent', { value: 42 })).body.response, { echoed: 42 });
  const twice = await smi('twice', {});
  assert.equal(twice.body.response, 'first');
  const run = await h.api('GET', `/api/v1/workspaces/smi-ws/runs/${twice.body.requestID}`);
  assert.match(run.body.log, /renderData was already called/);
});

test('the function gets the caller\'s arguments and the installation\'s iparams', async () => {
  assert.deepEqual((await smi('whoAmI', { agentId: 3 })).body.response, { iparams: { region: 'eu' }, agentId: 3 });
});

test('refusals record no run: no token 401, another workspace\'s token 403, an unlisted function 404, GET 405, a non-object 400', async () => {
  const before = (await h.api('GET', '/api/v1/workspaces/smi-ws/runs?limit=100')).body.data.length;
  assert.equal((await smi('notesOf', {}, null)).status, 401);
  const otherToken = (await h.api('POST', '/api/v1/workspaces/other-ws/tokens', {})).body.token;
  assert.equal((await smi('notesOf', {}, otherToken)).status, 403);
  const unknown = await smi('dropTables', {});
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, 'FUNCTION_NOT_FOUND');
  // A module function the manifest does not list is not callable either.
  assert.equal((await smi('notesKey', {})).body.error.code, 'FUNCTION_NOT_FOUND');
  assert.equal((await h.api('GET', '/workspaces/smi-ws/notes/smi/notesOf', undefined, token)).status, 405);
  assert.equal((await smi('notesOf', [1, 2])).status, 400);
  const after = (await h.api('GET', '/api/v1/workspaces/smi-ws/runs?limit=100')).body.data.length;
  assert.equal(after, before);
});
