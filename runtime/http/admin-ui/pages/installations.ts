// A workspace's installations (its overview page) and one installation: settings (iparams,
// secure ones write-only; a failed save shows what was typed), activate/deactivate, upgrade to
// another version, uninstall.
import { PlughostError } from '../../../errors.ts';
import { parsePage } from '../../../store/page.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { act, pageContext, seeOther, sendPage, shownError, workspaceOf, type UiContext, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query } from '../html.ts';
import { iparamsFromForm, iparamFields, writeOnly } from '../iparams.ts';
import { badge, csrfField, dataTable, errorBox, page, postButton, zoned } from '../layout.ts';

export function installationRoutes(router: UiRouter, deps: UiDeps) {
  const { installations, store, registry, sessions } = deps;
  const base = '/workspaces/:ws/installations/:id';
  const pathOf = (ws: string, id: string) => path`/admin/workspaces/${ws}/installations/${id}`;

  router.get('/workspaces/:ws', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const list = await installations.list(ws.id, parsePage(ctx.query));
    const pc = pageContext(ctx, 'overview', ws);
    const rows = list.data.map((i) => [
      html`<a href="${pathOf(ws.id, i.id)}">${i.displayName}</a><div class="hint">${i.plugin}</div>`, i.version, html`<code>${i.namespace}</code>`,
      html`${badge(i.active ? 'active' : 'inactive')}${i.loadError ? html` ${badge('broken')}` : ''}`,
      html`${postButton(pc, `${pathOf(ws.id, i.id)}/active`, i.active ? 'Deactivate' : 'Activate', { fields: { active: i.active ? 'false' : 'true' }, style: 'quiet' })}
<a href="${pathOf(ws.id, i.id)}">Manage</a>`,
    ]);
    const body = html`<p class="hint">Workspace <code>${ws.id}</code> · time zone ${ws.timezone}</p>
<p><a href="${path`/admin/workspaces/${ws.id}/install`}">Install a plugin →</a></p>
${dataTable(['Plugin', 'Version', 'Namespace', 'Status', 'Actions'], rows, 'Nothing is installed in this workspace yet.')}
${list.nextCursor ? html`<p><a href="${path`/admin/workspaces/${ws.id}` + query({ cursor: list.nextCursor })}">Next page →</a></p>` : ''}`;
    sendPage(ctx, page(pc, `Installations`, body));
  });

  /** The installation's page; after a failed save of its settings, `failed` keeps what was typed (never write-only values) and the error. */
  const render = async (ctx: UiContext, ws: Workspace, id: string, failed?: { error: string; status: number; iparams: Record<string, unknown> }) => {
    const inst = await store.installations.require(ws.id, id);
    const view = await installations.view(inst);
    const manifest = (await store.pluginVersions.get(inst.pluginName, inst.pluginVersion))!.manifest;
    const versions = await registry.versions(inst.pluginName);
    const schedules = [...await store.schedules.ofInstallation(inst.id, 'plugin'), ...await store.schedules.ofInstallation(inst.id, 'hook')];
    const pc = pageContext(ctx, 'overview', ws);
    const here = pathOf(ws.id, inst.id);
    const body = html`${failed ? errorBox(failed.error) : ''}<section class="card"><dl>
<dt>Plugin</dt><dd>${view.plugin} <span class="hint">(${view.displayName})</span></dd>
<dt>Version</dt><dd>${view.version}</dd><dt>Namespace</dt><dd><code>${view.namespace}</code></dd>
<dt>Status</dt><dd>${badge(view.active ? 'active' : 'inactive')} ${postButton(pc, `${here}/active`, view.active ? 'Deactivate' : 'Activate', { fields: { active: view.active ? 'false' : 'true', from: 'installation' }, style: 'quiet' })}</dd>
${view.loadError ? html`<dt>Code</dt><dd>${badge('broken')} <code>${view.loadError.code}</code> ${view.loadError.message}</dd>` : ''}
<dt>Routes</dt><dd>${view.routes.length ? view.routes.map((r) => html`<div><code>${r.path}</code> <span class="hint">${r.access}</span></div>`) : html`<span class="hint">none</span>`}</dd>
<dt>Schedules and hooks</dt><dd>${schedules.length ? html`<a href="${path`/admin/workspaces/${ws.id}/schedules`}">${schedules.length} on the schedules page</a>` : html`<span class="hint">none</span>`}
 · <a href="${path`/admin/workspaces/${ws.id}/runs` + query({ installation: inst.id })}">its runs</a></dd>
<dt>Installed</dt><dd>${zoned(inst.createdAt, ws.timezone)}</dd><dt>Changed</dt><dd>${zoned(inst.updatedAt, ws.timezone)}</dd></dl></section>

<h2>Settings</h2><section class="card"><form method="post" action="${here}/iparams">${csrfField(pc)}
${iparamFields(manifest.iparams, failed?.iparams ?? view.iparams, view.secureIparamsSet, true)}
${Object.keys(manifest.iparams).length ? html`<p><button type="submit">Save settings</button></p>` : ''}</form></section>

<h2>Upgrade</h2><section class="card"><form method="post" action="${here}/version" class="row">${csrfField(pc)}
<div><label for="version">Version</label><select id="version" name="version">${versions.map((v) => html`<option value="${v.version}"${v.version === view.version ? html` selected` : ''}>${v.version}${v.version === versions[0]!.version ? ' (latest)' : ''}</option>`)}</select></div>
<button type="submit">Change version</button></form>
<p class="hint">Settings the new version still declares are kept and checked again.</p></section>

<h2>Uninstall</h2><section class="card">${postButton(pc, `${here}/uninstall`, 'Uninstall', {
      style: 'danger', extra: html`<label><input type="checkbox" name="confirm" value="yes" required> Remove this installation, its settings and its schedules</label>`,
    })}</section>`;
    sendPage(ctx, page(pc, view.displayName, body), failed?.status ?? 200);
  };

  router.get(base, async (ctx) => {
    await render(ctx, await workspaceOf(ctx, deps), ctx.params.id);
  });

  router.post(`${base}/active`, async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const back = ctx.state.form.get('from') === 'installation' ? pathOf(ws.id, ctx.params.id) : path`/admin/workspaces/${ws.id}`;
    await act(ctx, deps, back, async () => {
      const active = ctx.state.form.get('active') === 'true';
      const view = await installations.change(ws.id, ctx.params.id, { active });
      return { notice: `${view.displayName} is ${active ? 'active' : 'inactive'} now.` };
    });
  });

  router.post(`${base}/iparams`, async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const inst = await store.installations.require(ws.id, ctx.params.id);
    const manifest = (await store.pluginVersions.get(inst.pluginName, inst.pluginVersion))!.manifest;
    const iparams = iparamsFromForm(manifest.iparams, ctx.state.form, true);
    try {
      const view = await installations.change(ws.id, inst.id, { iparams });
      await sessions.flash(ctx, { kind: 'notice', text: `Settings of ${view.displayName} saved.` });
      seeOther(ctx, pathOf(ws.id, inst.id));
    } catch (err) {
      const kept = Object.fromEntries(Object.entries(iparams).filter(([k]) => manifest.iparams[k] && !writeOnly(manifest.iparams[k])));
      await render(ctx, ws, inst.id, { ...shownError(err), iparams: kept });
    }
  });

  router.post(`${base}/version`, async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await act(ctx, deps, pathOf(ws.id, ctx.params.id), async () => {
      const version = ctx.state.form.get('version') ?? '';
      if (!version) throw new PlughostError('INVALID_BODY', 'choose a version');
      const view = await installations.change(ws.id, ctx.params.id, { version });
      return { notice: `${view.displayName} runs version ${view.version} now.` };
    });
  });

  router.post(`${base}/uninstall`, async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await act(ctx, deps, pathOf(ws.id, ctx.params.id), async () => {
      if (ctx.state.form.get('confirm') !== 'yes') throw new PlughostError('INVALID_BODY', 'tick the box to confirm the uninstall');
      const inst = await store.installations.require(ws.id, ctx.params.id);
      await installations.uninstall(ws.id, inst.id);
      return { notice: `${inst.pluginName} was uninstalled.`, to: path`/admin/workspaces/${ws.id}` };
    });
  });
}
