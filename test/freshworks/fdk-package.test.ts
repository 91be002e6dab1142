// FDK apps as FDK lays them out are packages: manifest.json (2.x `product`, 3.x `modules`),
// server/server.js, config/iparams.json and config/requests.json read into plughost's
// manifest; every problem reported at once, named by the FDK file it is in; manifest
// dependencies installed into the package, as `fdk pack` does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fdkManifest } from '../../runtime/packages/fdk.ts';
import { readPackageDirectory } from '../../runtime/packages/pack.ts';
import { isPlughostError } from '../../runtime/errors.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const files = (entries: Record<string, string | object>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, Buffer.from(typeof v === 'string' ? v : JSON.stringify(v))]));

const SERVER = `exports = {
  onTicketCreateHandler: function (args) { console.info('ticket ' + args.data.ticket.id); },
  onAppInstallHandler: function () { renderData(); },
  lookup: function (args) { renderData(null, { found: args.id }); }
};`;

const v2 = {
  'manifest.json': {
    'platform-version': '2.3',
    product: {
      freshdesk: {
        location: { ticket_sidebar: { url: 'index.html', icon: 'icon.svg' } },
        events: { onTicketCreate: { handler: 'onTicketCreateHandler' }, onAppInstall: { handler: 'onAppInstallHandler' } },
        functions: { lookup: { timeout: 10 } },
      },
    },
    'whitelisted-domains': ['https://*.example.com', 'https://api.example.org/v2'],
    engines: { node: '18.15.0', fdk: '9.0.0' },
  },
  'server/server.js': SERVER,
  'config/iparams.json': {
    api_key: { display_name: 'API key', description: 'Your key', type: 'text', required: true, secure: true },
    plan: { display_name: 'Plan', type: 'radio', options: ['free', 'pro'], default_value: 'free' },
    domain: { display_name: 'Domain', type: 'domain', 'data-bind': true },
  },
  'app/index.html': '<p>front end</p>',
};

test('a 2.x app: product events and functions, iparams with FDK fields, whitelisted domains as hosts', () => {
  const m = fdkManifest(files(v2), { name: 'ticket-helper' });
  assert.equal(m.name, 'ticket-helper');
  assert.equal(m.version, '1.0.0');
  assert.equal(m.namespace, 'ticket-helper');
  assert.equal(m.main, 'server/server.js');
  assert.deepEqual(m.events, { onTicketCreate: { handler: 'onTicketCreateHandler' }, onAppInstall: { handler: 'onAppInstallHandler' } });
  assert.deepEqual(m.functions, { lookup: { timeoutMs: 10_000 } });
  assert.deepEqual(m.permissions.hosts, ['*.example.com', 'api.example.org']);
  assert.deepEqual(m.iparams.api_key, { type: 'text', secure: true, required: true, displayName: 'API key', description: 'Your key' });
  assert.deepEqual(m.iparams.plan, { type: 'dropdown', secure: false, required: false, default: 'free', options: ['free', 'pro'], displayName: 'Plan' });
  assert.equal(m.iparams.domain!.type, 'text');
});

test('a 3.x app: modules.common events, functions and request templates from config/requests.json', () => {
  const m = fdkManifest(files({
    'manifest.json': {
      'platform-version': '3.0',
      modules: {
        common: {
          events: { onAppInstall: { handler: 'onAppInstallHandler' } },
          functions: { lookup: {} },
          requests: { getTicket: {} },
        },
        support_ticket: { events: { onTicketCreate: { handler: 'onTicketCreateHandler' } } },
      },
    },
    'server/server.js': SERVER,
    'config/requests.json': {
      getTicket: {
        schema: { method: 'GET', host: '<%= iparam.domain %>.example.com', path: '/api/v2/tickets/<%= context.id %>', headers: { Authorization: 'Basic <%= encode(iparam.api_key) %>' } },
        options: { maxAttempts: 3, retryDelay: 500 },
      },
    },
  }), { name: 'helper', version: '2.1.0', namespace: 'tickets' });
  assert.deepEqual([m.version, m.namespace], ['2.1.0', 'tickets']);
  assert.deepEqual(Object.keys(m.events).sort(), ['onAppInstall', 'onTicketCreate']);
  assert.deepEqual(m.functions, { lookup: { timeoutMs: m.limits.timeoutMs } });
  assert.deepEqual(m.requests.getTicket, {
    schema: { protocol: 'https', method: 'GET', host: '<%= iparam.domain %>.example.com', path: '/api/v2/tickets/<%= context.id %>', headers: { Authorization: 'Basic <%= encode(iparam.api_key) %>' }, query: {} },
    options: { maxAttempts: 3, retryDelay: 500 },
  });
});

test('the older exports.events form in server.js names the handlers the manifest does not', () => {
  const m = fdkManifest(files({
    'manifest.json': { 'platform-version': '2.0', product: { freshdesk: {} } },
    'server/server.js': `exports = {
  events: [
    { event: 'onTicketCreate', callback: 'onTicketCreateCallback' },
    { event: "onAppInstall", callback: onInstall }
  ],
  onTicketCreateCallback: function (payload) { console.log(payload.data.ticket.id); }
};
function onInstall() { renderData(); }`,
  }), { name: 'legacy' });
  assert.deepEqual(m.events, { onTicketCreate: { handler: 'onTicketCreateCallback' }, onAppInstall: { handler: 'onInstall' } });
});

test('every problem at once, each named by the FDK file it is in', () => {
  let err: unknown;
  try {
    fdkManifest(files({
      'manifest.json': { 'platform-version': '3.0', modules: { common: { requests: { missing: {} } } } },
      'config/iparams.json': { 'bad-name': { type: 'text' }, color: { type: 'rainbow' } },
      'config/requests.json': { viaOAuth: { schema: { method: 'GET', host: 'api.example.com' }, options: { oauth: 'github' } } },
    }), {});
  } catch (e) { err = e; }
  assert.ok(isPlughostError(err, 'INVALID_MANIFEST'), String(err));
  const paths = ((err as { details: Array<{ path: string }> }).details).map((p) => p.path).sort();
  assert.deepEqual(paths, ['config/requests.json viaOAuth.options.oauth', 'manifest.json requests.missing', 'name']);
  assert.match((err as Error).message, /FDK app has 3 problems/);

  // Once those are fixed, the translated fields are checked, and named in the app's files.
  let second: unknown;
  try {
    fdkManifest(files({ 'manifest.json': { 'platform-version': '2.2', product: {} }, 'config/iparams.json': { 'bad-name': { type: 'text' }, color: { type: 'rainbow' } } }), { name: 'x' });
  } catch (e) { second = e; }
  const problems = (second as { details: Array<{ path: string }> }).details.map((p) => p.path).sort();
  assert.deepEqual(problems, ['config/iparams.json.color.type', 'config/iparams.json["bad-name"]']);
});

test('an unsupported platform, templated domains and events without server.js are refused with what to do instead', () => {
  for (const [app, pattern] of [
    [{ 'manifest.json': { 'platform-version': '1.0' } }, /platform 2\.x and 3\.x/],
    [{ 'manifest.json': { 'platform-version': '2.3', product: {}, 'whitelisted-domains': ['https://<%= iparam.domain %>.freshdesk.com'] } }, /is a template/],
    [{ 'manifest.json': { 'platform-version': '2.3', product: { freshdesk: { events: { onTicketCreate: { handler: 'h' } } } } } }, /server\/server\.js.*missing/],
  ] as const) {
    assert.throws(() => fdkManifest(files(app), { name: 'x' }), (e: unknown) => isPlughostError(e, 'INVALID_MANIFEST') && pattern.test((e as Error).message));
  }
});

let h: TestHost;
before(async () => { h = await startHost(); });
after(async () => { await h.close(); });

test('POST /api/v1/plugins takes an FDK app as it is; ?name= names it, and without it the answer says so', async () => {
  const bare = await h.publish(v2);
  assert.equal(bare.status, 422);
  assert.equal(bare.body.error.code, 'INVALID_MANIFEST');
  assert.match(bare.body.error.message, /name: is not in an FDK manifest/);
  const named = await h.publish(v2, { name: 'ticket-helper', version: '1.2.0' });
  assert.equal(named.status, 201, JSON.stringify(named.body));
  assert.deepEqual(named.body, { name: 'ticket-helper', version: '1.2.0', namespace: 'ticket-helper', displayName: 'ticket-helper' });
  const listed = await h.api('GET', '/api/v1/plugins/ticket-helper');
  assert.deepEqual(listed.body.versions[0].manifest.functions, { lookup: { timeoutMs: 10_000 } });
  // Its iparams take FDK's rules: the required secure api_key must be given, and stays write-only.
  await h.api('POST', '/api/v1/workspaces', { id: 'fdk-pub', name: 'FDK' });
  const missing = await h.api('POST', '/api/v1/workspaces/fdk-pub/installations', { plugin: 'ticket-helper' });
  assert.equal(missing.body.error.code, 'INVALID_IPARAMS');
  const installed = await h.api('POST', '/api/v1/workspaces/fdk-pub/installations', { plugin: 'ticket-helper', iparams: { api_key: 'k-123' } });
  assert.equal(installed.status, 201, JSON.stringify(installed.body));
  assert.deepEqual(installed.body.iparams, { plan: 'free' });
  assert.deepEqual(installed.body.secureIparamsSet, ['api_key']);
});

test('manifest dependencies join the package under server/node_modules; one that needs Node built-ins is refused by name', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fdk-deps-'));
  const write = (p: string, text: string) => { fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true }); fs.writeFileSync(path.join(root, p), text); };
  // Local packages (npm's file: specs), so the test needs no registry.
  write('pure/package.json', JSON.stringify({ name: 'pure-lib', version: '1.0.0', main: 'index.js' }));
  write('pure/index.js', "module.exports = function (s) { return s.split('').reverse().join(''); };");
  write('net/package.json', JSON.stringify({ name: 'net-lib', version: '1.0.0', main: 'index.js' }));
  write('net/index.js', "const net = require('net'); const http = require('node:http'); module.exports = { net, http };");
  const app = (deps: Record<string, string>) => ({
    'platform-version': '2.3', product: { freshdesk: { functions: { reverse: {} } } }, dependencies: deps,
  });
  write('app/manifest.json', JSON.stringify(app({ 'pure-lib': `file:${root}/pure` })));
  write('app/server/server.js', "const reverse = require('pure-lib');\nexports = { reverse: function (args) { renderData(null, reverse(args.text)); } };");
  const { files } = await readPackageDirectory(path.join(root, 'app'), { name: 'reverser' });
  assert.deepEqual([...files.keys()].sort(), ['manifest.json', 'server/node_modules/pure-lib/index.js', 'server/node_modules/pure-lib/package.json', 'server/server.js']);

  // The packed app runs with its dependency in the isolate.
  const inline = Object.fromEntries([...files].map(([k, v]) => [k, Buffer.from(v).toString('utf8')]));
  assert.equal((await h.publish(inline, { name: 'reverser' })).status, 201);
  await h.api('POST', '/api/v1/workspaces', { id: 'fdk-deps', name: 'deps' });
  assert.equal((await h.api('POST', '/api/v1/workspaces/fdk-deps/installations', { plugin: 'reverser' })).status, 201);
  const answer = await h.api('POST', '/workspaces/fdk-deps/reverser/smi/reverse', { text: 'plughost' });
  assert.deepEqual(answer.body.response, 'tsohgulp');

  write('app/manifest.json', JSON.stringify(app({ 'pure-lib': `file:${root}/pure`, 'net-lib': `file:${root}/net` })));
  await assert.rejects(readPackageDirectory(path.join(root, 'app'), { name: 'reverser' }), (err: Error) => {
    assert.ok(isPlughostError(err, 'INVALID_MANIFEST'));
    assert.match(err.message, /net-lib needs http, net\b/);
    assert.match(err.message, /Replace net-lib with fetch or \$request/);
    return true;
  });
  fs.rmSync(root, { recursive: true, force: true });
});

test('an app with a custom installation page (config/iparams.html) takes any parameters, each kept write-only', async () => {
  const app = {
    'manifest.json': { 'platform-version': '2.3', product: { freshdesk: { functions: { keys: {} } } } },
    'config/iparams.html': '<form id="settings"></form>',
    'config/assets/iparams.js': 'function getConfigs() { return {}; }',
    'server/server.js': 'exports = { keys: function (args) { renderData(null, { subdomain: args.iparams.subdomain, hasKey: Boolean(args.iparams.api_key) }); } };',
  };
  assert.equal(fdkManifest(files(app), { name: 'custom-page' }).openIparams, true);
  assert.equal((await h.publish(app, { name: 'custom-page' })).status, 201);
  await h.api('POST', '/api/v1/workspaces', { id: 'fdk-open', name: 'open' });
  const inst = await h.api('POST', '/api/v1/workspaces/fdk-open/installations', { plugin: 'custom-page', iparams: { subdomain: 'acme', api_key: 'k-1' } });
  assert.equal(inst.status, 201, JSON.stringify(inst.body));
  assert.deepEqual([inst.body.iparams, inst.body.secureIparamsSet.sort()], [{}, ['api_key', 'subdomain']]);
  const answer = await h.api('POST', '/workspaces/fdk-open/custom-page/smi/keys', {});
  assert.deepEqual(answer.body.response, { subdomain: 'acme', hasKey: true });
  // Names must still be identifiers, and values bounded.
  const bad = await h.api('POST', '/api/v1/workspaces/fdk-open/installations', { plugin: 'custom-page', iparams: { 'no-dash': 1, big: 'x'.repeat(10_001) } });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.error.details.map((d: { path: string }) => d.path).sort(), ['iparams.big', 'iparams["no-dash"]']);
});
