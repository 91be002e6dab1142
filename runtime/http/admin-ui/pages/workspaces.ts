// The workspaces list: the operator sees (and may create) every workspace; a workspace token
// sees its own only. A failed create shows the form again as typed, with the error.
import { validate } from '../../body.ts';
import { parsePage } from '../../../store/page.ts';
import { workspaceInput } from '../../../workspaces.ts';
import { field, pageContext, seeOther, sendPage, shownError, type UiContext, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query } from '../html.ts';
import { csrfField, dataTable, errorBox, page } from '../layout.ts';

interface Typed { name: string; id: string; timezone: string }

export function workspaceRoutes(router: UiRouter, deps: UiDeps) {
  const { store, workspaces, auth, sessions } = deps;

  const render = async (ctx: UiContext, failed?: { error: string; status: number; typed: Typed }) => {
    const p = ctx.state.principal;
    const list = await store.workspaces.list(parsePage(ctx.query), p.kind === 'workspace' ? p.workspaceId : undefined);
    const pc = pageContext(ctx, 'workspaces');
    const rows = list.data.map((ws) => [html`<a href="${path`/admin/workspaces/${ws.id}`}">${ws.name}</a>`, html`<code>${ws.id}</code>`, ws.timezone, new Date(ws.createdAt).toISOString().slice(0, 10)]);
    const typed = failed?.typed ?? { name: '', id: '', timezone: 'UTC' };
    const create = p.kind === 'operator' ? html`<h2>New workspace</h2><section class="card">
<form method="post" action="/admin/workspaces" class="row">${csrfField(pc)}
<div><label for="ws-name">Name</label><input type="text" id="ws-name" name="name" value="${typed.name}" required maxlength="200"></div>
<div><label for="ws-id">Id <span class="hint">(optional)</span></label><input type="text" id="ws-id" name="id" value="${typed.id}" pattern="[A-Za-z0-9_\\-]{1,64}" maxlength="64"></div>
<div><label for="ws-tz">Time zone</label><input type="text" id="ws-tz" name="timezone" value="${typed.timezone}" maxlength="64"></div>
<button type="submit">Create</button></form></section>` : '';
    const body = html`${failed ? errorBox(failed.error) : ''}${dataTable(['Name', 'Id', 'Time zone', 'Created'], rows, 'No workspaces yet.')}
${list.nextCursor ? html`<p><a href="${`/admin/workspaces${query({ cursor: list.nextCursor })}`}">Next page →</a></p>` : ''}${create}`;
    sendPage(ctx, page(pc, 'Workspaces', body), failed?.status ?? 200);
  };

  router.get('/workspaces', (ctx) => render(ctx));

  router.post('/workspaces', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    const typed = { name: field(ctx, 'name') ?? '', id: field(ctx, 'id') ?? '', timezone: field(ctx, 'timezone') ?? '' };
    try {
      const ws = await workspaces.create(validate(workspaceInput, { name: typed.name, id: typed.id || undefined, timezone: typed.timezone || undefined }));
      await sessions.flash(ctx, { kind: 'notice', text: `Workspace ${ws.name} created.` });
      seeOther(ctx, path`/admin/workspaces/${ws.id}`);
    } catch (err) {
      await render(ctx, { ...shownError(err), typed });
    }
  });
}
