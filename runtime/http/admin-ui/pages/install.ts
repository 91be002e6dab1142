// Installing a plugin: choose a published plugin and version (a GET form, so it works without
// script), then fill in the installation parameters that version's manifest declares.
import type { Context } from 'koa';
import type { Workspace } from '../../../store/workspaces.ts';
import { pageContext, readableError, seeOther, sendPage, workspaceOf, type UiDeps, type UiRouter } from '../context.ts';
import { html, path } from '../html.ts';
import { iparamsFromForm, iparamFields, writeOnly } from '../iparams.ts';
import { csrfField, errorBox, page } from '../layout.ts';

export function installRoutes(router: UiRouter, deps: UiDeps) {
  const { registry, installations, sessions } = deps;

  /** The page; after a failed install, `failed` keeps what was typed (never write-only values) and the error. */
  const render = async (ctx: Context, ws: Workspace, chosen: { plugin: string; version: string }, failed?: { error: string; values: Record<string, unknown>; status: number }) => {
    const pc = pageContext(ctx, 'overview', ws);
    const plugins = (await registry.list({ limit: 200 })).data;
    const versions = chosen.plugin ? await registry.versions(chosen.plugin) : [];
    const version = versions.find((v) => v.version === chosen.version) ?? versions[0];
    const here = path`/admin/workspaces/${ws.id}/install`;
    const choose = html`<section class="card"><form method="get" action="${here}" class="row">
<div><label for="plugin">Plugin</label><select id="plugin" name="plugin">${plugins.map((p) => html`<option value="${p.name}"${p.name === chosen.plugin ? html` selected` : ''}>${p.displayName} (${p.name})</option>`)}</select></div>
${versions.length ? html`<div><label for="pick-version">Version</label><select id="pick-version" name="version">${versions.map((v) => html`<option value="${v.version}"${v === version ? html` selected` : ''}>${v.version}</option>`)}</select></div>` : ''}
<button type="submit" class="quiet">Choose</button></form>
${plugins.length ? '' : html`<p class="hint">No plugin is published on this host yet.</p>`}</section>`;
    let form = html``;
    if (chosen.plugin && !version) form = errorBox(`No plugin named ${chosen.plugin} is published.`);
    else if (version) {
      const m = version.manifest;
      form = html`<h2>${m.displayName} ${m.version}</h2><section class="card">
<p class="hint">Namespace <code>${m.namespace}</code>${m.services.length ? html` · routes ${m.services.map((s) => html`<code>${s.route}</code> `)}` : ''}</p>
<form method="post" action="${here}">${csrfField(pc)}
<input type="hidden" name="plugin" value="${m.name}"><input type="hidden" name="version" value="${m.version}">
${iparamFields(m.iparams, failed?.values ?? {}, [], false)}
<label><input type="checkbox" name="active" value="true" checked> Active once installed</label>
<p><button type="submit">Install</button></p></form></section>`;
    }
    const body = html`${failed ? errorBox(failed.error) : ''}${choose}${form}`;
    sendPage(ctx, page(pc, 'Install a plugin', body), failed?.status ?? 200);
  };

  router.get('/workspaces/:ws/install', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const one = (v: unknown) => (typeof v === 'string' ? v : '');
    await render(ctx, ws, { plugin: one(ctx.query.plugin), version: one(ctx.query.version) });
  });

  router.post('/workspaces/:ws/install', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const plugin = ctx.state.form.get('plugin') ?? '';
    const version = ctx.state.form.get('version') ?? '';
    let iparams: Record<string, unknown> = {};
    try {
      const manifest = (await registry.versions(plugin)).find((v) => v.version === version)?.manifest;
      if (manifest) iparams = iparamsFromForm(manifest.iparams, ctx.state.form, false);
      const view = await installations.install(ws.id, { plugin, version: version || undefined, iparams, active: ctx.state.form.get('active') === 'true' });
      await sessions.flash(ctx, { kind: 'notice', text: `${view.displayName} ${view.version} installed.` });
      seeOther(ctx, path`/admin/workspaces/${ws.id}/installations/${view.id}`);
    } catch (err) {
      const message = readableError(err);
      if (message === undefined) throw err;
      const manifest = (await registry.versions(plugin)).find((v) => v.version === version)?.manifest;
      const kept = Object.fromEntries(Object.entries(iparams).filter(([k]) => manifest && manifest.iparams[k] && !writeOnly(manifest.iparams[k])));
      await render(ctx, ws, { plugin, version }, { error: `${(err as { code: string }).code}: ${message}`, values: kept, status: (err as { status: number }).status });
    }
  });
}
