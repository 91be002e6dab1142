// The admin UI's management forms, server side: what they show is escaped (a webhook's
// description and URL, a form shown again after an error, the runs filters, API key names, a
// poll key's queue); a failed workspace create, settings save or API key create keeps what was
// typed (never a secret); each new form refuses a POST without the session's CSRF token or from
// another origin, changing nothing; a workspace token cannot see, revoke or use another
// workspace's tokens, API keys, poll keys, webhooks or runs, nor create tokens or keys there;
// revoking a session's own token signs it out. And the store functions behind them: workspace
// tokens listed and revoked, the run list's start-time and text filters and its pages both
// ways, and the last-run lookup reading the runs(schedule_id, id) index.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hashToken } from '../../runtime/secrets.ts';
import type { Run } from '../../runtime/store/runs.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { UiClient } from './helpers.ts';

const XSS = '<script>alert("x")</script>';
const XSS_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;';
let h: TestHost;
const token: Record<string, string> = {};
const tokenId: Record<string, string> = {};
const webhook: Record<string, string> = {};
const run: Record<string, string> = {};
let betaKey: string;
const pollKey: Record<string, { id: string; key: string }> = {};
let paramsId: string;

before(async () => {
  h = await startHost();
  assert.equal((await h.publish({
    'plugin.json': { name: 'ui-ok', version: '1.0.0', namespace: 'ok', services: [{ route: 'ok', main: 'plugin.js' }], limits: { timeoutMs: 1000 } },
    'plugin.js': 'exports.run = function (e) { e.response.send("ok"); };',
  })).status, 201);
  for (const ws of ['alpha', 'beta']) {
    assert.equal((await h.api('POST', '/api/v1/workspaces', { id: ws, name: ws, timezone: 'Europe/Paris' })).status, 201);
    assert.equal((await h.api('POST', `/api/v1/workspaces/${ws}/installations`, { plugin: 'ui-ok' })).status, 201);
    token[ws] = (await h.api('POST', `/api/v1/workspaces/${ws}/tokens`)).body.token;
    tokenId[ws] = (await h.host.store.tokens.findByHash(hashToken(token[ws]!)))!.id;
    const made = await h.api('POST', `/api/v1/workspaces/${ws}/scheduled-webhooks`, { url: `/workspaces/${ws}/ok/ok`, frequency: 'daily', start: '2099-01-01 09:00', description: `Described ${XSS}` });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    webhook[ws] = made.body.id;
    run[ws] = (await h.api('POST', `/api/v1/workspaces/${ws}/scheduled-webhooks/${made.body.id}/run`)).body.run.id;
    pollKey[ws] = (await h.api('POST', `/api/v1/workspaces/${ws}/integration-messages/student/keys`)).body;
  }
  betaKey = (await h.api('POST', '/api/v1/workspaces/beta/api-keys', { name: `Key ${XSS}`, path: '/api/things' })).body.id;
  assert.equal((await h.publish({
    'plugin.json': {
      name: 'ui-params', version: '1.0.0', namespace: 'params', services: [{ route: 'p', main: 'plugin.js' }], limits: { timeoutMs: 1000 },
      iparams: { channel: { type: 'text', required: true }, apiKey: { type: 'password', secure: true, required: true }, retries: { type: 'number' } },
    },
    'plugin.js': 'exports.run = function (e) { e.response.send("p"); };',
  })).status, 201);
  paramsId = (await h.api('POST', '/api/v1/workspaces/beta/installations', { plugin: 'ui-params', iparams: { channel: '#ops', apiKey: 'first-secret', retries: 1 } })).body.id;
});
after(async () => {
  await h.close();
});

async function signedIn(as: string): Promise<UiClient> {
  const ui = new UiClient(h.url);
  assert.equal((await ui.signIn(as)).status, 303);
  return ui;
}

const pollFetch = (ws: string, key: string) => fetch(`${h.url}/workspaces/${ws}/api/haplo-integration-messages/poll/student/fetch`, {
  headers: { authorization: `Basic ${Buffer.from(`haplo:${key}`).toString('base64')}` },
});

function noScript(text: string, where: string): void {
  assert.equal(text.includes('<script'), false, `${where} carries a <script> element`);
}

test('the new pages and forms escape what they show, also when a form comes back with its error', async () => {
  const ui = await signedIn(h.operatorToken);
  for (const p of ['/admin/workspaces/beta/schedules', `/admin/workspaces/beta/webhooks/${webhook.beta}`]) {
    const res = await ui.get(p);
    assert.equal(res.status, 200, p);
    noScript(res.text, p);
    assert.ok(res.text.includes(`Described ${XSS_ESCAPED}`), p);
  }
  const csrf = await ui.csrf();
  const failed = await ui.post('/admin/workspaces/beta/webhooks', { _csrf: csrf, action: 'save', url: `"><script>x</script>`, description: XSS, repeat: 'daily', timezone: XSS });
  assert.equal(failed.status, 400);
  noScript(failed.text, 'the form shown again');
  assert.ok(failed.text.includes(`name="description" value="${XSS_ESCAPED}"`), 'what was typed, escaped in its attribute');
  assert.ok(failed.text.includes('name="url" value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"'));
  assert.match(failed.text, /INVALID_BODY: the body has 2 problem\(s\): url: must be a plugin route path/);

  const runs = await ui.get(`/admin/workspaces/beta/runs?q=${encodeURIComponent(XSS)}`);
  assert.equal(runs.status, 200);
  noScript(runs.text, 'the runs page');
  assert.ok(runs.text.includes(`name="q" value="${XSS_ESCAPED}"`));
  const badFrom = await ui.get(`/admin/workspaces/beta/runs?from=${encodeURIComponent(XSS)}`);
  assert.equal(badFrom.status, 400);
  noScript(badFrom.text, 'a bad from');
  assert.match(badFrom.text, /INVALID_QUERY: from must be a local date and time such as 2026-05-04T09:00 \(read in Europe\/Paris\)/);
  const badCursor = await ui.get('/admin/workspaces/beta/runs?newer=');
  assert.equal(badCursor.status, 200, 'an empty cursor is none');

  const tokens = await ui.get('/admin/workspaces/beta/tokens');
  noScript(tokens.text, 'the tokens page');
  assert.ok(tokens.text.includes(`Key ${XSS_ESCAPED}`), 'an API key name');
  const badGroup = await ui.post('/admin/workspaces/beta/poll-keys', { _csrf: csrf, group: XSS });
  assert.equal(badGroup.status, 400);
  noScript(badGroup.text, 'the poll key form shown again');
  assert.ok(badGroup.text.includes(`name="group" value="${XSS_ESCAPED}"`));
  assert.ok(tokens.text.includes(pollKey.beta!.id) && !tokens.text.includes(pollKey.beta!.key), 'a poll key is listed by its id, never the key');
});

test('a failed API key create shows the form again as typed (escaped), with the error, and makes no key', async () => {
  const ui = await signedIn(h.operatorToken);
  const csrf = await ui.csrf();
  const before = (await h.api('GET', '/api/v1/workspaces/beta/api-keys')).body.data.length;
  const failed = await ui.post('/admin/workspaces/beta/api-keys', { _csrf: csrf, name: `Reports ${XSS}`, path: `/api/../${XSS}` });
  assert.equal(failed.status, 400);
  noScript(failed.text, 'the API key form shown again');
  assert.match(failed.text, /INVALID_BODY: the body has 1 problem\(s\): path: must be a path under \/api\//);
  assert.ok(failed.text.includes(`name="name" value="Reports ${XSS_ESCAPED}"`), 'the name as typed');
  assert.ok(failed.text.includes(`name="path" value="/api/../${XSS_ESCAPED}"`), 'the path as typed');
  assert.ok(!/id="new-secret"/.test(failed.text), 'no key shown');
  assert.equal((await h.api('GET', '/api/v1/workspaces/beta/api-keys')).body.data.length, before);

  const made = await ui.post('/admin/workspaces/beta/api-keys', { _csrf: csrf, name: `Reports ${XSS}`, path: '/api/reports' });
  assert.equal(made.status, 200);
  noScript(made.text, 'the new API key\'s page');
  const key = /<code class="secret" id="new-secret">(pha_[A-Za-z0-9_-]+)<\/code>/.exec(made.text)?.[1];
  assert.ok(key, 'the key, shown once');
  assert.ok(made.text.includes(`New API key Reports ${XSS_ESCAPED}`));
  const stored = (await h.host.store.apiKeys.byHash(hashToken(key)))!;
  assert.deepEqual([stored.workspaceId, stored.name, stored.pathPrefix], ['beta', `Reports ${XSS}`, '/api/reports']);
  assert.ok(!(await ui.get('/admin/workspaces/beta/tokens')).text.includes(key), 'never shown again');
  const entry = (await h.api('GET', '/api/v1/workspaces/beta/integration-messages/audit')).body.data.find((a: { action: string; detail: { id?: string } }) => a.action === 'create-api-key' && a.detail.id === stored.id);
  assert.match(entry?.actor ?? '', /^operator:tok_/, 'audited as the REST API audits it');
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/beta/api-keys/${stored.id}`)).status, 204);
});

test('a failed workspace create or settings save shows the form again as typed (escaped), never a secret', async () => {
  const ui = await signedIn(h.operatorToken);
  const csrf = await ui.csrf();
  const ws = await ui.post('/admin/workspaces', { _csrf: csrf, name: `New ${XSS}`, id: 'newone', timezone: 'Mars/Olympus' });
  assert.equal(ws.status, 400);
  noScript(ws.text, 'the workspace form shown again');
  assert.match(ws.text, /INVALID_BODY: the body has 1 problem\(s\): timezone: must be an IANA time zone/);
  assert.ok(ws.text.includes(`name="name" value="New ${XSS_ESCAPED}"`) && ws.text.includes('name="id" value="newone"') && ws.text.includes('name="timezone" value="Mars/Olympus"'));
  assert.equal((await h.api('GET', '/api/v1/workspaces/newone')).status, 404);

  const settings = await ui.post(`/admin/workspaces/beta/installations/${paramsId}/iparams`, { _csrf: csrf, 'ip.channel': `#${XSS}`, 'ip.apiKey': 'typed-secret', 'ip.retries': 'three' });
  assert.equal(settings.status, 422);
  noScript(settings.text, 'the settings form shown again');
  assert.match(settings.text, /INVALID_IPARAMS: The installation parameters have 1 problem: iparams\.retries: must be a number\./);
  assert.ok(settings.text.includes(`name="ip.channel" value="#${XSS_ESCAPED}"`) && settings.text.includes('name="ip.retries" value="three"'));
  assert.ok(!settings.text.includes('typed-secret') && !settings.text.includes('first-secret'), 'a secret is never sent back');
  const view = (await h.api('GET', `/api/v1/workspaces/beta/installations/${paramsId}`)).body;
  assert.deepEqual(view.iparams, { channel: '#ops', retries: 1 });
});

test('every new form refuses a POST without the session\'s CSRF token, or from another origin, and changes nothing', async () => {
  const ui = await signedIn(h.operatorToken);
  const csrf = await ui.csrf();
  const forms: Array<[string, Record<string, string>]> = [
    ['/admin/workspaces/alpha/webhooks', { action: 'save', url: '/workspaces/alpha/ok/ok', repeat: 'hourly' }],
    [`/admin/workspaces/alpha/webhooks/${webhook.alpha}`, { action: 'save', url: '/workspaces/alpha/ok/ok', repeat: 'hourly', description: 'changed' }],
    [`/admin/workspaces/alpha/webhooks/${webhook.alpha}/delete`, { confirm: 'yes' }],
    ['/admin/workspaces/alpha/tokens', {}],
    [`/admin/workspaces/alpha/tokens/${tokenId.alpha}/revoke`, {}],
    [`/admin/workspaces/beta/api-keys/${betaKey}/revoke`, {}],
    ['/admin/workspaces/alpha/poll-keys', { group: 'student' }],
    [`/admin/workspaces/alpha/poll-keys/${pollKey.alpha!.id}/revoke`, {}],
    ['/admin/workspaces/beta/api-keys', { name: 'forged', path: '/api/forged' }],
    [`/admin/workspaces/alpha/runs/${run.alpha}/rerun`, {}],
  ];
  const state = async () => JSON.stringify([
    (await h.api('GET', '/api/v1/workspaces/alpha/scheduled-webhooks')).body.data.map((w: { description: string; cron: string }) => [w.description, w.cron]),
    await h.host.auth.workspaceTokens('alpha'), (await h.api('GET', '/api/v1/workspaces/beta/api-keys')).body.data,
    (await h.api('GET', '/api/v1/workspaces/alpha/runs')).body.data.length, (await h.api('GET', '/api/v1/workspaces/alpha/integration-messages/audit')).body.data,
    (await h.api('GET', '/api/v1/workspaces/alpha/integration-messages/keys')).body.data, (await h.api('GET', '/api/v1/workspaces/beta/integration-messages/audit')).body.data,
  ]);
  const before = await state();
  for (const [p, fields] of forms) {
    for (const extra of [{}, { _csrf: 'forged' }] as Array<Record<string, string>>) {
      const res = await ui.post(p, { ...fields, ...extra });
      assert.equal(res.status, 403, `${p} ${JSON.stringify(extra)}`);
      assert.match(res.text, /The form&#39;s security token is missing or out of date/);
    }
    const foreign = await ui.post(p, { ...fields, _csrf: csrf }, { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403, p);
    assert.match(foreign.text, /the Origin check failed/);
  }
  assert.equal(await state(), before);
});

test('a workspace token cannot see or change another workspace\'s tokens, keys, webhooks or runs, nor create tokens', async () => {
  const ui = await signedIn(token.alpha!);
  const csrf = await ui.csrf('/admin/workspaces/alpha/tokens');
  const own = await ui.get('/admin/workspaces/alpha/tokens');
  assert.ok(own.text.includes(tokenId.alpha!) && !own.text.includes(tokenId.beta!), 'its own workspace\'s tokens only');
  assert.ok(!own.text.includes('Create a workspace token'), 'only the operator creates them');

  for (const p of ['/admin/workspaces/beta/tokens', `/admin/workspaces/beta/webhooks/${webhook.beta}`, '/admin/workspaces/beta/webhooks/new', `/admin/workspaces/beta/runs/${run.beta}`]) {
    const res = await ui.get(p);
    assert.equal(res.status, 403, p);
    assert.match(res.text, /FORBIDDEN: this workspace token manages another workspace/);
  }
  const forbidden: Array<[string, Record<string, string>]> = [
    [`/admin/workspaces/beta/tokens/${tokenId.beta}/revoke`, {}], ['/admin/workspaces/beta/tokens', {}], ['/admin/workspaces/beta/poll-keys', { group: 'student' }],
    [`/admin/workspaces/beta/api-keys/${betaKey}/revoke`, {}], [`/admin/workspaces/beta/webhooks/${webhook.beta}/delete`, { confirm: 'yes' }],
    [`/admin/workspaces/beta/runs/${run.beta}/rerun`, {}], ['/admin/workspaces/beta/webhooks', { action: 'save', url: '/workspaces/beta/ok/ok', repeat: 'daily' }],
    ['/admin/workspaces/beta/api-keys', { name: 'theirs', path: '/api/things' }], [`/admin/workspaces/beta/poll-keys/${pollKey.beta!.id}/revoke`, {}],
  ];
  for (const [p, fields] of forbidden) {
    const res = await ui.post(p, { ...fields, _csrf: csrf });
    assert.equal(res.status, 403, p);
    assert.match(res.text, /FORBIDDEN: this workspace token manages another workspace/, p);
  }
  const create = await ui.post('/admin/workspaces/alpha/tokens', { _csrf: csrf });
  assert.equal(create.status, 403);
  assert.match(create.text, /FORBIDDEN: only the operator token may do this/);

  // Another workspace's ids under its own workspace's paths are not found.
  const revoke = await ui.post(`/admin/workspaces/alpha/tokens/${tokenId.beta}/revoke`, { _csrf: csrf });
  assert.equal(revoke.status, 303);
  assert.match((await ui.get(revoke.location!)).text, new RegExp(`TOKEN_NOT_FOUND: workspace &#96;alpha&#96; has no token &#96;${tokenId.beta}&#96;`));
  const keyRevoke = await ui.post(`/admin/workspaces/alpha/api-keys/${betaKey}/revoke`, { _csrf: csrf });
  assert.match((await ui.get(keyRevoke.location!)).text, /API_KEY_NOT_FOUND/);
  const pollRevoke = await ui.post(`/admin/workspaces/alpha/poll-keys/${pollKey.beta!.id}/revoke`, { _csrf: csrf });
  assert.equal(pollRevoke.status, 303);
  assert.match((await ui.get(pollRevoke.location!)).text, new RegExp(`POLL_KEY_NOT_FOUND: workspace &#96;alpha&#96; has no poll key &#96;${pollKey.beta!.id}&#96;`));
  const edit = await ui.post(`/admin/workspaces/alpha/webhooks/${webhook.beta}`, { _csrf: csrf, action: 'save', url: '/workspaces/beta/ok/ok', repeat: 'hourly' });
  assert.equal(edit.status, 404);
  assert.match(edit.text, /SCHEDULE_NOT_FOUND/);
  assert.equal((await ui.post(`/admin/workspaces/alpha/runs/${run.beta}/rerun`, { _csrf: csrf })).status, 404);
  // Nothing of beta's changed: its token works, its key is active, its webhook and runs are as they were.
  assert.equal((await h.api('GET', '/api/v1/workspaces/beta', undefined, token.beta)).status, 200);
  assert.equal((await h.api('GET', '/api/v1/workspaces/beta/api-keys')).body.data[0].revokedAt, null);
  assert.equal((await h.api('GET', `/api/v1/workspaces/beta/scheduled-webhooks/${webhook.beta}`)).body.frequency, 'daily');
  assert.equal((await h.api('GET', '/api/v1/workspaces/beta/runs')).body.data.length, 1);
  assert.deepEqual((await h.api('GET', '/api/v1/workspaces/beta/integration-messages/keys')).body.data.map((k: { id: string }) => k.id), [pollKey.beta!.id]);
  assert.equal((await pollFetch('beta', pollKey.beta!.key)).status, 200, 'beta\'s poll key still opens its queue');
  assert.ok(!(await h.api('GET', '/api/v1/workspaces/beta/api-keys')).body.data.some((k: { name: string }) => k.name === 'theirs'), 'no API key made in beta');

  // Its own workspace's poll key it revokes, and the poll API refuses the key from then on.
  assert.equal((await pollFetch('alpha', pollKey.alpha!.key)).status, 200);
  const ownPoll = await ui.post(`/admin/workspaces/alpha/poll-keys/${pollKey.alpha!.id}/revoke`, { _csrf: csrf });
  assert.match((await ui.get(ownPoll.location!)).text, new RegExp(`Poll key ${pollKey.alpha!.id} for student revoked`));
  assert.equal((await pollFetch('alpha', pollKey.alpha!.key)).status, 401);

  // Revoking its own token signs the session out, and the token stops working.
  const self = await ui.post(`/admin/workspaces/alpha/tokens/${tokenId.alpha}/revoke`, { _csrf: csrf });
  assert.equal(self.status, 303);
  const next = await ui.get(self.location!);
  assert.equal(next.location, '/admin/login');
  assert.match((await ui.get('/admin/login')).text, /revoked\. It was this session&#39;s token, so you are signed out\./);
  assert.equal((await h.api('GET', '/api/v1/workspaces/alpha', undefined, token.alpha)).status, 401);
});

test('a run that cannot be re-run is refused with the reason, and nothing runs', async () => {
  const ui = await signedIn(h.operatorToken);
  await fetch(`${h.url}/workspaces/beta/ok/ok`);
  const route = (await h.api('GET', '/api/v1/workspaces/beta/runs?kind=route')).body.data[0];
  const count = (await h.api('GET', '/api/v1/workspaces/beta/runs')).body.data.length;
  const res = await ui.post(`/admin/workspaces/beta/runs/${route.id}/rerun`, { _csrf: await ui.csrf() });
  assert.equal(res.status, 303);
  assert.equal(res.location, `/admin/workspaces/beta/runs/${route.id}`);
  assert.match((await ui.get(res.location!)).text, /An HTTP route call cannot be re-run: the host does not keep the request it answered\./);
  assert.equal((await h.api('GET', '/api/v1/workspaces/beta/runs')).body.data.length, count);
});

test('store: a workspace\'s tokens are listed and revoked; the operator\'s token is never one of them', async () => {
  const { auth, store } = h.host;
  const made = await auth.createWorkspaceToken('beta');
  const id = (await store.tokens.findByHash(hashToken(made)))!.id;
  assert.deepEqual((await auth.workspaceTokens('beta')).map((t) => t.id), [tokenId.beta, id]);
  await assert.rejects(auth.revokeWorkspaceToken('alpha', id), { code: 'TOKEN_NOT_FOUND' });
  await auth.revokeWorkspaceToken('beta', id);
  assert.equal(await auth.principalOf(made), undefined);
  assert.deepEqual((await auth.workspaceTokens('beta')).map((t) => t.id), [tokenId.beta]);
  const operator = (await auth.principalOf(h.operatorToken))!;
  assert.equal(await store.tokens.deleteOfWorkspace('beta', operator.tokenId), false);
  assert.ok(await auth.principalOf(h.operatorToken));
  await assert.rejects(auth.workspaceTokens('nowhere'), { code: 'WORKSPACE_NOT_FOUND' });
});

test('store: runs filtered by start time and text (wildcards and quotes as text), paged newer and older', async () => {
  const { store } = h.host;
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'gamma', name: 'gamma' })).status, 201);
  const base = Date.parse('2026-01-01T00:00:00Z');
  const made: Run[] = [];
  const texts = ['GET /a/100%_done', 'GET /a/plain', 'POST /b/other', 'GET /c/x', 'GET /d/y'];
  const errors = [null, { code: 'PLUGIN_ERROR', message: 'said "no" at C:\\path' }, { code: 'PLUGIN_ERROR', message: 'Timeout in Plain sight' }, null, null];
  for (let i = 0; i < 5; i++) {
    made.push({
      id: `run_gamma_${i}`, workspaceId: 'gamma', installationId: null, kind: 'route', trigger: 'http', target: texts[i]!, status: errors[i] ? 'failed' : 'succeeded',
      scheduleId: null, idempotencyKey: null, attempt: 1, httpStatus: 200, startedAt: base + i * 60_000, finishedAt: base + i * 60_000 + 5, durationMs: 5, log: 'x', error: errors[i]!,
    });
  }
  await store.runs.insertMany(made);
  const ids = async (filter: Parameters<typeof store.runs.list>[1]) => (await store.runs.list('gamma', filter, {})).data.map((r) => r.id.slice(-1)).join('');
  assert.equal(await ids({}), '43210');
  assert.equal(await ids({ startedFrom: base + 60_000, startedBefore: base + 3 * 60_000 }), '21');
  assert.equal(await ids({ search: '%_' }), '0', 'LIKE wildcards are text');
  assert.equal(await ids({ search: '100%' }), '0');
  assert.equal(await ids({ search: 'PLAIN' }), '21', 'the target and the error message, any case');
  assert.equal(await ids({ search: '"no" at c:\\path' }), '1', 'quotes and backslashes as the message has them');
  assert.equal(await ids({ search: 'message' }), '', 'never the error\'s JSON keys');
  assert.equal(await ids({ search: 'PLUGIN_ERROR' }), '', 'the message, not the code');

  const page = async (req: Parameters<typeof store.runs.window>[2]) => {
    const w = await store.runs.window('gamma', {}, { limit: 2, ...req });
    return { ids: w.data.map((r) => r.id.slice(-1)).join(''), older: w.olderCursor, newer: w.newerCursor };
  };
  const p1 = await page({});
  assert.deepEqual([p1.ids, p1.newer], ['43', null]);
  const p2 = await page({ older: p1.older! });
  assert.equal(p2.ids, '21');
  const p3 = await page({ older: p2.older! });
  assert.deepEqual([p3.ids, p3.older], ['0', null]);
  const back = await page({ newer: p3.newer! });
  assert.deepEqual([back.ids, back.older, back.newer], ['21', p2.older, p2.newer]);
  const top = await page({ newer: back.newer! });
  assert.deepEqual([top.ids, top.newer, top.older], ['43', null, p1.older]);
  assert.deepEqual(await page({ newer: Buffer.from('run_gamma_9').toString('base64url') }), p1, 'past the newest end: the newest page');
  await assert.rejects(store.runs.window('gamma', {}, { older: Buffer.from('x'.repeat(201)).toString('base64url') }), { code: 'INVALID_QUERY' });
  // The REST list keeps its shape: data and nextCursor only.
  assert.deepEqual(Object.keys((await h.api('GET', '/api/v1/workspaces/gamma/runs?limit=2')).body), ['data', 'nextCursor']);
});

test('store: each schedule\'s last run is an index lookup on runs(schedule_id, id) (migration 013)', async () => {
  const { store } = h.host;
  const seen: Array<{ sql: string; bindings: unknown[] }> = [];
  const listen = (q: { sql: string; bindings?: unknown[] }) => { if (/from [`"]runs[`"]/i.test(q.sql)) seen.push({ sql: q.sql, bindings: q.bindings ?? [] }); };
  store.db.on('query', listen);
  let last;
  try {
    last = await store.runs.lastOfSchedules('beta', [webhook.beta!]);
  } finally {
    store.db.removeListener('query', listen);
  }
  assert.equal(last.get(webhook.beta!)?.id, run.beta, 'the webhook\'s run');
  assert.equal(seen.length, 1, JSON.stringify(seen));
  const { bindings } = seen[0]!;
  const sql = seen[0]!.sql.replace(/\$\d+/g, '?'); // PostgreSQL's $1 … as knex's placeholders
  const plan = store.dialect === 'postgres'
    ? (await store.db.raw(`EXPLAIN ${sql}`, bindings as never)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n')
    : (await store.db.raw(`EXPLAIN QUERY PLAN ${sql}`, bindings as never)).map((r: { detail: string }) => r.detail).join('\n');
  assert.match(plan, /runs_schedule_id_id_index/, plan);
});
