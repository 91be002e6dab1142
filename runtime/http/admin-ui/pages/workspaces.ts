// The workspaces list: the operator sees (and may create) every workspace; a workspace token
// sees its own only.
import { validate } from '../../body.ts';
import { parsePage } from '../../../store/page.ts';
import { workspaceInput } from '../../../workspaces.ts';
import { act, field, pageContext, sendPage, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query } from '../html.ts';
import { csrfField, page } from '../layout.ts';

export function workspaceRoutes(router: UiRouter, deps: UiDeps) {
  const { store, workspaces, auth } = deps;

  router.get('/workspaces', async (ctx) => {
    const p = ctx.state.principal;
    const list = await store.workspaces.list(parsePage(ctx.query), p.kind === 'workspace' ? p.workspaceId : undefined);
    const pc = pageContext(ctx, 'workspaces');
    const rows = list.data.map((ws) => html`<tr><td><a href="${path`/admin/workspaces/${ws.id}`}">${ws.name}</a></td><td><code>${ws.id}</code></td><td>${ws.timezone}</td><td>${new Date(ws.createdAt).toISOString().slice(0, 10)}</td></tr>`);
    const create = p.kind === 'operator' ? html`<h2>New workspace</h2><section class="card">
<form method="post" action="/admin/workspaces" class="row">${csrfField(pc)}
<div><label for="ws-name">Name</label><input type="text" id="ws-name" name="name" required maxlength="200"></div>
<div><label for="ws-id">Id <span class="hint">(optional)</span></label><input type="text" id="ws-id" name="id" pattern="[A-Za-z0-9_\\-]{1,64}" maxlength="64"></div>
<div><label for="ws-tz">Time zone</label><input type="text" id="ws-tz" name="timezone" value="UTC" maxlength="64"></div>
<button type="submit">Create</button></form></section>` : '';
    const body = html`<table><thead><tr><th>Name</th><th>Id</th><th>Time zone</th><th>Created</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="4" class="hint">No workspaces yet.</td></tr>`}</tbody></table>
${list.nextCursor ? html`<p><a href="${`/admin/workspaces${query({ cursor: list.nextCursor })}`}">Next page →</a></p>` : ''}${create}`;
    sendPage(ctx, page(pc, 'Workspaces', body));
  });

  router.post('/workspaces', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    await act(ctx, deps, '/admin/workspaces', async () => {
      const input = validate(workspaceInput, { name: field(ctx, 'name') ?? '', id: field(ctx, 'id') || undefined, timezone: field(ctx, 'timezone') || undefined });
      const ws = await workspaces.create(input);
      return { notice: `Workspace ${ws.name} created.`, to: path`/admin/workspaces/${ws.id}` };
    });
  });
}
