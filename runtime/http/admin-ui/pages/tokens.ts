// A workspace's tokens and keys: its workspace tokens (the operator creates them; the operator or
// the workspace revokes them), its Haplo API keys (listed, revoked) and Haplo poll keys (made
// for one queue). A new token or key is on the page that answers the form, once: only its
// hash is stored, and it is never in a cookie, a URL or a redirect. Every act is audited.
import type { Context } from 'koa';
import { PlughostError } from '../../../errors.ts';
import { checkGroup } from '../../../haplo/integration-messages.ts';
import { hashToken } from '../../../secrets.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { act, actorOf, pageContext, sendPage, shownError, workspaceOf, type UiContext, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { badge, csrfField, dataTable, errorBox, page, postButton, zoned } from '../layout.ts';

/** What the page shows once: a new secret, or a failed form's error and what was typed. */
interface Shown { created?: { what: string; secret: string; details?: SafeHtml }; error?: string; status?: number; group?: string }

export function tokenRoutes(router: UiRouter, deps: UiDeps) {
  const { store, auth, messages, clock } = deps;
  const here = (ws: string) => path`/admin/workspaces/${ws}/tokens`;
  const audit = (ctx: UiContext, ws: string, action: string, detail: Record<string, unknown>) => store.audit.record(ws, actorOf(ctx.state.principal), action, detail, clock.now());

  const render = async (ctx: Context & UiContext, ws: Workspace, shown: Shown = {}) => {
    const pc = pageContext(ctx, 'tokens', ws);
    const operator = ctx.state.principal.kind === 'operator';
    const [tokens, keys, queues] = await Promise.all([auth.workspaceTokens(ws.id), store.apiKeys.list(ws.id, { limit: 200 }), store.messages.queues(ws.id)]);
    const created = shown.created ? html`<section class="card" role="status"><h2>New ${shown.created.what}</h2>
<p>Copy it now: it is shown this once and cannot be read again.</p><p><code class="secret" id="new-secret">${shown.created.secret}</code></p>${shown.created.details ?? ''}</section>` : '';
    const tokenRows = tokens.map((t) => [
      html`<code>${t.id}</code>${t.id === ctx.state.session.tokenId ? html` <span class="badge warn">this session</span>` : ''}`, zoned(t.createdAt, ws.timezone),
      postButton(pc, path`/admin/workspaces/${ws.id}/tokens/${t.id}/revoke`, 'Revoke', { style: 'danger' }),
    ]);
    const keyRows = keys.data.map((k) => [
      k.name, html`<code>${k.pathPrefix}</code>`, zoned(k.createdAt, ws.timezone),
      k.revokedAt === null ? badge('active') : html`${badge('revoked')} <span class="hint">${zoned(k.revokedAt, ws.timezone)}</span>`,
      k.revokedAt === null ? postButton(pc, path`/admin/workspaces/${ws.id}/api-keys/${k.id}/revoke`, 'Revoke', { style: 'danger' }) : '',
    ]);
    const body = html`${shown.error ? errorBox(shown.error) : ''}${created}
<h2>Workspace tokens</h2>
<p class="hint">A workspace token manages this workspace, over the REST API and on these pages. Revoking one refuses it at once and signs out its sessions.</p>
${dataTable(['Token', 'Created', 'Actions'], tokenRows, 'This workspace has no tokens.')}
${operator ? postButton(pc, path`/admin/workspaces/${ws.id}/tokens`, 'Create a workspace token') : html`<p class="hint">Only the operator creates workspace tokens.</p>`}
<h2>Haplo API keys</h2>
<p class="hint">A key opens the paths under its path in this workspace's <code>/api</code> respond roots. Make one with POST /api/v1/workspaces/${ws.id}/api-keys.</p>
${dataTable(['Name', 'Path', 'Created', 'Status', 'Actions'], keyRows, 'This workspace has no API keys.')}
<h2>Haplo poll keys</h2><section class="card">
<p class="hint">A poll key opens one queue's poll API (HTTP Basic <code>haplo:&lt;key&gt;</code>) and nothing else.</p>
<form method="post" action="${path`/admin/workspaces/${ws.id}/poll-keys`}" class="row">${csrfField(pc)}
<div><label for="pk-group">Queue</label><input type="text" id="pk-group" name="group" value="${shown.group ?? ''}" required maxlength="100" list="pk-queues"></div>
<datalist id="pk-queues">${queues.map((q) => html`<option value="${q.group}">${q.title}</option>`)}</datalist>
<button type="submit">Create a poll key</button></form></section>`;
    sendPage(ctx, page(pc, 'Tokens and keys', body), shown.status ?? 200);
  };

  router.get('/workspaces/:ws/tokens', async (ctx) => {
    await render(ctx, await workspaceOf(ctx, deps));
  });

  router.post('/workspaces/:ws/tokens', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    auth.checkOperator(ctx.state.principal);
    const token = await auth.createWorkspaceToken(ws.id);
    const id = (await store.tokens.findByHash(hashToken(token)))!.id;
    await audit(ctx, ws.id, 'create-token', { id });
    await render(ctx, ws, { created: { what: 'workspace token', secret: token, details: html`<p class="hint">Its id is <code>${id}</code>. Sign in with it, or send it as <code>Authorization: Bearer …</code>.</p>` } });
  });

  router.post('/workspaces/:ws/tokens/:id/revoke', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await act(ctx, deps, here(ws.id), async () => {
      await auth.revokeWorkspaceToken(ws.id, ctx.params.id);
      await audit(ctx, ws.id, 'revoke-token', { id: ctx.params.id });
      const own = ctx.params.id === ctx.state.session.tokenId;
      return { notice: `Token ${ctx.params.id} revoked.${own ? ' It was this session\'s token, so you are signed out.' : ''}` };
    });
  });

  router.post('/workspaces/:ws/api-keys/:id/revoke', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await act(ctx, deps, here(ws.id), async () => {
      if (!(await store.apiKeys.revoke(ws.id, ctx.params.id, clock.now()))) throw new PlughostError('API_KEY_NOT_FOUND', `workspace \`${ws.id}\` has no API key \`${ctx.params.id}\``);
      await audit(ctx, ws.id, 'revoke-api-key', { id: ctx.params.id });
      return { notice: `API key ${ctx.params.id} revoked.` };
    });
  });

  router.post('/workspaces/:ws/poll-keys', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const typed = (ctx.state.form.get('group') ?? '').trim();
    try {
      const group = checkGroup(typed);
      const key = await messages.createKey(ws.id, group);
      await audit(ctx, ws.id, 'create-poll-key', { group });
      const pollUrl = `/workspaces/${ws.id}/api/haplo-integration-messages/poll/${group}/fetch`;
      await render(ctx, ws, { created: { what: `poll key for ${group}`, secret: key, details: html`<p class="hint">Its poller fetches from <code>${pollUrl}</code>.</p>` } });
    } catch (err) {
      await render(ctx, ws, { ...shownError(err), group: typed });
    }
  });
}
