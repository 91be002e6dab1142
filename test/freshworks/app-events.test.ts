// Freshworks app events: onAppInstall before an installation is active (its renderData(error)
// refuses the install and leaves nothing behind), onSettingsUpdate before new iparams are
// kept, afterAppUpdate after a new version, onAppUninstall before removal; generateTargetUrl()
// and onExternalEvent; product events from POST /api/v1/workspaces/:ws/events. The apps are
// written the way FDK's sample apps are.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.ts';

// Like FDK's app-setup sample: install makes a recurring sync schedule and registers a target URL.
const syncApp = (version: string) => ({
  'manifest.json': {
    'platform-version': '3.0',
    modules: {
      common: {
        events: {
          onAppInstall: { handler: 'onAppInstallHandler' },
          onAppUninstall: { handler: 'onAppUninstallHandler' },
          onSettingsUpdate: { handler: 'onSettingsUpdateHandler' },
          afterAppUpdate: { handler: 'afterAppUpdateHandler' },
          onExternalEvent: { handler: 'onExternalEventHandler' },
          onScheduledEvent: { handler: 'onScheduledEventHandler' },
        },
      },
      support_ticket: { events: { onTicketCreate: { handler: 'onTicketCreateHandler' } } },
    },
  },
  'config/iparams.json': {
    tenant: { display_name: 'Tenant', type: 'text', required: true },
  },
  'server/server.js': `
exports = {
  onAppInstallHandler: async function (args) {
    try {
      if (args.iparams.tenant === 'blocked') throw new Error('this tenant is not licensed');
      await $schedule.create({ name: 'sync', schedule_at: new Date(Date.now() + 5 * 60 * 1000).toISOString(),
        repeat: { time_unit: 'minutes', frequency: 10 }, data: { tenant: args.iparams.tenant } });
      const url = await generateTargetUrl();
      await $db.set('target', { url: url });
      console.info('registered ' + url);
      renderData();
    } catch (error) {
      renderData({ message: error.message });
    }
  },
  onSettingsUpdateHandler: function (args) {
    if (args.iparams.tenant.length < 3) return renderData({ message: 'tenant ids have at least 3 characters' });
    renderData();
  },
  afterAppUpdateHandler: function () { console.info('updated to ${version}'); },
  onAppUninstallHandler: async function () {
    const saved = await $db.get('target');
    console.info('deregistering ' + saved.url);
    renderData();
  },
  onExternalEventHandler: async function (payload) {
    await $db.set('last-external', { data: payload.data, signature: payload.headers['x-signature'] || null, event: payload.event });
  },
  onScheduledEventHandler: function () {},
  onTicketCreateHandler: async function (args) {
    await $db.set('ticket:' + args.data.ticket.id, { subject: args.data.ticket.subject, domain: args.domain, region: args.region, account: args.account_id });
  }
};`,
});

// The older form: handlers named in exports.events, not in the manifest.
const legacyApp = {
  'manifest.json': { 'platform-version': '2.0', product: { freshdesk: {} } },
  'server/server.js': `
exports = {
  events: [{ event: 'onTicketCreate', callback: 'onTicketCreateCallback' }],
  onTicketCreateCallback: function (payload) {
    return $db.set('seen:' + payload.data.ticket.id, { by: 'legacy' });
  }
};`,
};

let h: TestHost;
let ws = 0;
const workspace = async () => {
  const id = `fdk-ev-${++ws}`;
  await h.api('POST', '/api/v1/workspaces', { id, name: id });
  return id;
};
const runsOf = async (id: string) => (await h.api('GET', `/api/v1/workspaces/${id}/runs?limit=50`)).body.data as Array<{ id: string; kind: string; target: string; status: string }>;
const runLog = async (id: string, runId: string) => (await h.api('GET', `/api/v1/workspaces/${id}/runs/${runId}`)).body.log as string;
// What an installation keeps in $db, read from the store.
const kvOf = (instId: string, key: string) => h.host.store.kv.get(instId, key);
// Every run that has finished since the host started, and who waits for which.
const done = new Set<string>();
const waiting: Array<{ ids: string[]; resolve: () => void }> = [];
/** Resolves once the runs with these ids have finished (before or after the call). */
const finished = (ids: string[]) => new Promise<void>((resolve) => {
  if (ids.every((id) => done.has(id))) resolve();
  else waiting.push({ ids, resolve });
});

before(async () => {
  h = await startHost();
  h.host.events.on('run:finished', (run) => {
    done.add(run.id);
    for (const w of waiting.splice(0)) {
      if (w.ids.every((id) => done.has(id))) w.resolve();
      else waiting.push(w);
    }
  });
  assert.equal((await h.publish(syncApp('1.0.0'), { name: 'psa-sync', version: '1.0.0' })).status, 201);
  assert.equal((await h.publish(syncApp('1.1.0'), { name: 'psa-sync', version: '1.1.0' })).status, 201);
  assert.equal((await h.publish(legacyApp, { name: 'legacy-app' })).status, 201);
});
after(async () => { await h.close(); });

test('onAppInstall runs before the installation is active: its schedule and target URL exist when install answers', async () => {
  const id = await workspace();
  const r = await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'psa-sync', version: '1.0.0', iparams: { tenant: 'acme' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.active, true);
  const schedules = (await h.api('GET', `/api/v1/workspaces/${id}/schedules`)).body.data;
  assert.deepEqual(schedules.map((s: { name: string; spec: { data: unknown } }) => [s.name, s.spec.data]), [['sync', { tenant: 'acme' }]]);
  const target = await kvOf(r.body.id, 'target') as { url: string };
  assert.match(target.url, new RegExp(`^${h.url}/workspaces/${id}/psa-sync/external/[A-Za-z0-9_-]{32}$`));
  const install = (await runsOf(id)).find((run) => run.target === 'onAppInstall')!;
  assert.deepEqual([install.kind, install.status], ['event', 'succeeded']);
});

test('renderData(error) in onAppInstall refuses the install with the app\'s message; nothing is left behind', async () => {
  const id = await workspace();
  const r = await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'psa-sync', version: '1.0.0', iparams: { tenant: 'blocked' } });
  assert.equal(r.status, 422);
  assert.equal(r.body.error.code, 'APP_INSTALL_FAILED');
  assert.match(r.body.error.message, /this tenant is not licensed/);
  assert.deepEqual((await h.api('GET', `/api/v1/workspaces/${id}/installations`)).body.data, []);
  assert.deepEqual((await h.api('GET', `/api/v1/workspaces/${id}/schedules`)).body.data, []);
  // The failed run stays in the workspace's history, to say why.
  const runs = await runsOf(id);
  assert.deepEqual(runs.map((run) => [run.target, run.status]), [['onAppInstall', 'failed']]);
});

test('onSettingsUpdate can refuse new iparams (nothing changes); afterAppUpdate runs after a new version', async () => {
  const id = await workspace();
  const inst = (await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'psa-sync', version: '1.0.0', iparams: { tenant: 'acme' } })).body;
  const refused = await h.api('PATCH', `/api/v1/workspaces/${id}/installations/${inst.id}`, { iparams: { tenant: 'ab' } });
  assert.equal(refused.status, 422);
  assert.equal(refused.body.error.code, 'APP_SETTINGS_REFUSED');
  assert.match(refused.body.error.message, /at least 3 characters/);
  assert.deepEqual((await h.api('GET', `/api/v1/workspaces/${id}/installations/${inst.id}`)).body.iparams, { tenant: 'acme' });
  const kept = await h.api('PATCH', `/api/v1/workspaces/${id}/installations/${inst.id}`, { iparams: { tenant: 'globex' } });
  assert.equal(kept.status, 200, JSON.stringify(kept.body));
  const upgraded = await h.api('PATCH', `/api/v1/workspaces/${id}/installations/${inst.id}`, { version: '1.1.0' });
  assert.equal(upgraded.body.version, '1.1.0');
  const update = (await runsOf(id)).find((run) => run.target === 'afterAppUpdate')!;
  assert.match(await runLog(id, update.id), /updated to 1\.1\.0/);
});

test('onAppUninstall runs before removal, with the installation\'s data still there', async () => {
  const id = await workspace();
  const inst = (await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'psa-sync', version: '1.0.0', iparams: { tenant: 'acme' } })).body;
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/${id}/installations/${inst.id}`)).status, 204);
  const uninstall = (await runsOf(id)).find((run) => run.target === 'onAppUninstall')!;
  assert.equal(uninstall.status, 'succeeded');
  assert.match(await runLog(id, uninstall.id), /deregistering http:\/\/.+\/external\//);
  assert.deepEqual((await h.api('GET', `/api/v1/workspaces/${id}/installations`)).body.data, []);
});

test('a POST to the target URL fires onExternalEvent with the body as data and the headers; a wrong token is 404', async () => {
  const id = await workspace();
  const inst = (await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'psa-sync', version: '1.0.0', iparams: { tenant: 'acme' } })).body;
  const { url } = await kvOf(inst.id, 'target') as { url: string };
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': 'sig-1' }, body: JSON.stringify({ invoice: 9, paid: true }) });
  assert.equal(res.status, 202);
  const { runId } = await res.json() as { runId: string };
  await finished([runId]);
  assert.deepEqual(await kvOf(inst.id, 'last-external'), { data: { invoice: 9, paid: true }, signature: 'sig-1', event: 'onExternalEvent' });
  const forged = await fetch(url.replace(/external\/.{4}/, 'external/AAAA'), { method: 'POST', body: '{}' });
  assert.equal(forged.status, 404);
  assert.equal((await fetch(url)).status, 405);
});

test('a product event reaches every active installation that handles it, the older exports.events form included', async () => {
  const id = await workspace();
  const modern = (await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'psa-sync', version: '1.0.0', iparams: { tenant: 'acme' } })).body;
  const legacy = (await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'legacy-app' })).body;
  const r = await h.api('POST', `/api/v1/workspaces/${id}/events`, { event: 'onTicketCreate', data: { ticket: { id: 101, subject: 'Printer on fire' } } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.deepEqual(r.body.runs.map((x: { installationId: string }) => x.installationId).sort(), [modern.id, legacy.id].sort());
  await finished(r.body.runs.map((x: { runId: string }) => x.runId));
  assert.deepEqual(await kvOf(modern.id, 'ticket:101'), { subject: 'Printer on fire', domain: `${id}.plughost.local`, region: 'US', account: id });
  assert.deepEqual(await kvOf(legacy.id, 'seen:101'), { by: 'legacy' });
  // An event nobody handles starts no run; host-fired events cannot be sent from outside.
  assert.deepEqual((await h.api('POST', `/api/v1/workspaces/${id}/events`, { event: 'onContactCreate', data: {} })).body.runs, []);
  const hostOnly = await h.api('POST', `/api/v1/workspaces/${id}/events`, { event: 'onAppInstall', data: {} });
  assert.equal(hostOnly.status, 400);
  assert.equal((await h.api('POST', `/api/v1/workspaces/${id}/events`, { event: 'drop tables' })).status, 400);
});


test("the workspace's product domain and region, once set, are what payloads carry", async () => {
  const id = await workspace();
  const inst = (await h.api('POST', `/api/v1/workspaces/${id}/installations`, { plugin: 'psa-sync', version: '1.0.0', iparams: { tenant: 'acme' } })).body;
  const patched = await h.api('PATCH', `/api/v1/workspaces/${id}`, { domain: 'acme.freshdesk.com', region: 'EU' });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual([patched.body.domain, patched.body.region], ['acme.freshdesk.com', 'EU']);
  const r = await h.api('POST', `/api/v1/workspaces/${id}/events`, { event: 'onTicketCreate', data: { ticket: { id: 5, subject: 'VPN' } } });
  await finished(r.body.runs.map((x: { runId: string }) => x.runId));
  assert.deepEqual(await kvOf(inst.id, 'ticket:5'), { subject: 'VPN', domain: 'acme.freshdesk.com', region: 'EU', account: id });
  const bad = await h.api('PATCH', `/api/v1/workspaces/${id}`, { domain: 'not a host', region: 'eu', timezone: 'UTC' });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.error.details.map((d: { path: string }) => d.path).sort(), ['(root)', 'domain', 'region'].sort());
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/${id}`, { domain: null })).body.domain, null);
});
