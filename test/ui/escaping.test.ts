// Every value the admin UI shows is HTML-escaped: the `html` template's escaping (unit), the
// iparam form conversions (unit), and whole pages where a plugin's displayName and iparam
// texts, a workspace name, message data, a queue's title, a run's log and error, and the
// path itself hold markup: it arrives as text, and no page carries a <script> element.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { escapeHtml, html, path, query } from '../../runtime/http/admin-ui/html.ts';
import { iparamsFromForm } from '../../runtime/http/admin-ui/iparams.ts';
import type { IparamSpec } from '../../runtime/packages/iparams.ts';
import { startHost, type TestHost } from '../helpers/host.ts';
import { UiClient } from './helpers.ts';

const XSS = '<script>alert("x")</script>';
const XSS_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;';
let h: TestHost;
let ui: UiClient;
let installationId: string;

test('html`` escapes interpolated text and keeps nested markup', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&\`</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;');
  assert.equal(html`<p title="${'"><script>'}">${XSS}</p>`.text, `<p title="&quot;&gt;&lt;script&gt;">${XSS_ESCAPED}</p>`);
  assert.equal(html`<ul>${['<b>', html`<li>${'<i>'}</li>`]}</ul>`.text, '<ul>&lt;b&gt;<li>&lt;i&gt;</li></ul>');
  assert.equal(html`${null}${undefined}${false}${0}`.text, '0');
  assert.equal(path`/admin/workspaces/${'a/b?c'}/queues/${'<g>'}`, '/admin/workspaces/a%2Fb%3Fc/queues/%3Cg%3E');
  assert.equal(query({ status: 'a&b', kind: undefined, cursor: '' }), '?status=a%26b');
});

test('iparam form fields become typed values; blank write-only fields keep the stored secret', () => {
  const specs: Record<string, IparamSpec> = {
    name: { type: 'text', secure: false, required: true },
    key: { type: 'password', secure: true, required: true },
    count: { type: 'number', secure: false, required: false },
    level: { type: 'dropdown', secure: false, required: false, options: [1, 2, 'three'] },
    tags: { type: 'multiselect', secure: false, required: false, options: ['a', 'b', 3] },
    on: { type: 'checkbox', secure: false, required: false },
  };
  const form = new URLSearchParams([['ip.name', ' ada '], ['ip.key', ' spaced secret '], ['ip.count', '4.5'], ['ip.level', '2'], ['ip.tags', 'b'], ['ip.tags', '3'], ['ip.on', 'true']]);
  assert.deepEqual(iparamsFromForm(specs, form, false), { name: 'ada', key: ' spaced secret ', count: 4.5, level: 2, tags: ['b', 3], on: true });
  const blank = new URLSearchParams([['ip.name', ''], ['ip.key', ''], ['ip.count', 'many'], ['ip.level', '']]);
  assert.deepEqual(iparamsFromForm(specs, blank, false), { count: 'many', on: false });
  assert.deepEqual(iparamsFromForm(specs, blank, true), { name: null, count: 'many', level: null, tags: [], on: false });
});

before(async () => {
  h = await startHost();
  assert.equal((await h.api('POST', '/api/v1/workspaces', { id: 'xss', name: `Acme ${XSS}`, timezone: 'Europe/Paris' })).status, 201);
  const published = await h.publish({
    'plugin.json': {
      name: 'ui-xss', version: '1.0.0', namespace: 'xss', displayName: `Evil ${XSS}`, main: 'main.js',
      services: [{ route: 'hit', main: 'plugin.js' }], limits: { timeoutMs: 1000 },
      iparams: { note: { type: 'text', displayName: `Note ${XSS}`, description: `About ${XSS}`, default: `"><script>alert(1)</script>` } },
    },
    'main.js': `P.implementService("haplo:integration-message:discover", function (discover) {
  discover({ group: "xss", method: "send", title: ${JSON.stringify(`Queue ${XSS}`)}, description: ${JSON.stringify(`Described ${XSS}`)} });
});`,
    'plugin.js': `exports.run = function (e) {
  console.log(${JSON.stringify(`logged ${XSS}`)});
  O.service("haplo:integration-message:add", { group: "xss", data: { html: ${JSON.stringify(XSS)} } });
  throw new Error(${JSON.stringify(`failed ${XSS}`)});
};`,
  });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const install = await h.api('POST', '/api/v1/workspaces/xss/installations', { plugin: 'ui-xss' });
  assert.equal(install.status, 201, JSON.stringify(install.body));
  installationId = install.body.id;
  assert.equal((await fetch(`${h.url}/workspaces/xss/xss/hit`)).status, 500);
  ui = new UiClient(h.url);
  assert.equal((await ui.signIn(h.operatorToken)).status, 303);
});
after(async () => {
  await h.close();
});

async function pageText(p: string): Promise<string> {
  const res = await ui.get(p);
  assert.equal(res.status, 200, `${p}: ${res.text.slice(0, 500)}`);
  assert.equal(res.text.includes('<script'), false, `${p} carries a <script> element`);
  return res.text;
}

test('a plugin displayName and iparam texts are escaped', async () => {
  const overview = await pageText('/admin/workspaces/xss');
  assert.ok(overview.includes(`Evil ${XSS_ESCAPED}`));
  assert.ok(overview.includes(`Acme ${XSS_ESCAPED}`), 'the workspace name too');
  const list = await pageText('/admin/workspaces');
  assert.ok(list.includes(`Acme ${XSS_ESCAPED}`));
  const inst = await pageText(`/admin/workspaces/xss/installations/${installationId}`);
  assert.ok(inst.includes(`<title>Evil ${XSS_ESCAPED} · plughost admin</title>`));
  assert.ok(inst.includes(`Note ${XSS_ESCAPED}`));
  assert.ok(inst.includes(`About ${XSS_ESCAPED}`));
  assert.ok(inst.includes('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'), 'a stored value inside an attribute');
  const install = await pageText('/admin/workspaces/xss/install?plugin=ui-xss');
  assert.ok(install.includes(`Evil ${XSS_ESCAPED} (ui-xss)`));
});

test('message data and a queue\'s title and description are escaped', async () => {
  const queues = await pageText('/admin/workspaces/xss/queues');
  assert.ok(queues.includes(`Queue ${XSS_ESCAPED}`));
  assert.ok(queues.includes(`Described ${XSS_ESCAPED}`));
  const queue = await pageText('/admin/workspaces/xss/queues/xss');
  // JSON.stringify escapes the quotes first; the page escapes the rest.
  assert.ok(queue.includes('&quot;html&quot;: &quot;&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;&quot;'), queue);
});

test('a run\'s log and error are escaped', async () => {
  const runs = await pageText('/admin/workspaces/xss/runs');
  assert.ok(runs.includes(`failed ${XSS_ESCAPED}`), 'the error in the list');
  const runId = /\/admin\/workspaces\/xss\/runs\/(run_[a-z0-9]+)/.exec(runs)![1]!;
  const run = await pageText(`/admin/workspaces/xss/runs/${runId}`);
  assert.match(run, new RegExp(`\\[log\\] logged ${XSS_ESCAPED.replace(/[()]/g, '\\$&')}`));
  assert.ok(run.includes(`PLUGIN_ERROR: Error: failed ${XSS_ESCAPED}`));
});

test('markup in a path or query is escaped on the page that reports it', async () => {
  const res = await ui.get(`/admin/workspaces/xss/no-such-${encodeURIComponent(XSS)}`);
  assert.equal(res.status, 404);
  assert.equal(res.text.includes('<script'), false);
  assert.ok(res.text.includes('There is no admin page at /admin/workspaces/xss/no-such-&lt;script&gt;'));
  const bad = await ui.get(`/admin/workspaces/xss/runs?status=${encodeURIComponent(XSS)}`);
  assert.equal(bad.status, 400);
  assert.ok(bad.text.includes('INVALID_QUERY: status must be one of running, succeeded, failed, timed-out'));
  const queue = await ui.get(`/admin/workspaces/xss/queues/${encodeURIComponent(XSS)}`);
  assert.equal(queue.status, 400);
  assert.equal(queue.text.includes('<script'), false);
});
