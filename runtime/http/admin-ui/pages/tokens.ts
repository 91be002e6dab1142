// A workspace's tokens and keys: its workspace tokens (the operator creates them; the operator or
// the workspace revokes them), its Haplo API keys (created for a path, listed, revoked) and
// Haplo poll keys (created for one queue, listed, revoked). A new token or key is on the page
// that answers the form, once: only its hash is stored, and it is never in a cookie, a URL or a
// redirect. Every act is audited. API keys are made by runtime/haplo/api-keys.ts and poll keys
// by the integration messages, as the REST API makes them.
import type { Context } from 'koa';
import { PlughostError } from '../../../errors.ts';
import { createApiKey } from '../../../haplo/api-keys.ts';
import { checkGroup } from '../../../haplo/integration-messages.ts';
import { hashToken } from '../../../secrets.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { act, actorOf, pageContext, sendPage, shownError, workspaceOf, type UiContext, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { badge, csrfField, dataTable, errorBox, page, postButton, zoned } from '../layout.ts';

/** What the page shows once: a new secret, or a failed form's error and what was typed. */
interface Shown {
  created?: { what: string; secret: string; details?: SafeHtml }; error?: string; status?: number;
  /** What was typed into the poll key form, or the API key form. */
  group?: string; apiKey?: { name: string; path: string };
}

export function tokenRoutes(router: UiRouter, deps: UiDeps) {
  const { store, auth, messages, clock } = deps;
  const here = (ws: string) => path`/admin/workspaces/${ws}/tokens`;
  const audit = (ctx: UiContext, ws: string, action: string, detail: Record<string, unknown>) => store.audit.record(ws, actorOf(ctx.state.principal), action, detail, clock.now());

  const render = async (ctx: Context & UiContext, ws: Workspace, shown: Shown = {}) => {
    const pc = pageContext(ctx, 'tokens', ws);
    const operator = ctx.state.principal.kind === 'operator';
    const [tokens, keys, queues, pollKeys] = await Promise.all([
      auth.workspaceTokens(ws.id), store.apiKeys.list(ws.id, { limit: 200 }), store.messages.queues(ws.id), messages.keys(ws.id),
    ]);
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
    const pollKeyRows = pollKeys.map((k) => [
      html`<code>${k.id}</code>`, html`<code>${k.group}</code>`, zoned(k.createdAt, ws.timezone),
      postButton(pc, path`/admin/workspaces/${ws.id}/poll-keys/${k.id}/revoke`, 'Revoke', { style: 'danger' }),
    ]);
    const typedKey = shown.apiKey ?? { name: '', path: '' };
    const body = html`${shown.error ? errorBox(shown.error) : ''}${created}
<h2>Workspace tokens</h2>
<p class="hint">A workspace token manages this workspace, over the REST API and on these pages. Revoking one refuses it at once and signs out its sessions.</p>
${dataTable(['Token', 'Created', 'Actions'], tokenRows, 'This workspace has no tokens.')}
${operator ? postButton(pc, path`/admin/workspaces/${ws.id}/tokens`, 'Create a workspace token') : html`<p class="hint">Only the operator creates workspace tokens.</p>`}
<h2>Haplo API keys</h2>
<p class="hint">A key opens the paths under its path in this workspace's <code>/api</code> respond roots (HTTP Basic <code>haplo:&lt;key&gt;</code>). A revoked key stays listed, and is refused.</p>
${dataTable(['Name', 'Path', 'Created', 'Status', 'Actions'], keyRows, 'This workspace has no API keys.')}
<section class="card"><form method="post" action="${path`/admin/workspaces/${ws.id}/api-keys`}" class="row">${csrfField(pc)}
<div><label for="ak-name">Name</label><input type="text" id="ak-name" name="name" value="${typedKey.name}" required maxlength="200"></div>
<div><label for="ak-path">Path</label><input type="text" id="ak-path" name="path" value="${typedKey.path}" required maxlength="200" placeholder="/api/haplo-integration-messages"></div>
<button type="submit">Create an API key</button></form>
<p class="hint">The path is under <code>/api/</code>; the key opens it and every path below it.</p></section>
<h2>Haplo poll keys</h2>
<p class="hint">A poll key opens one queue's poll API (HTTP Basic <code>haplo:&lt;key&gt;</code>) and nothing else. Revoking one refuses it at once.</p>
${dataTable(['Key', 'Queue', 'Created', 'Actions'], pollKeyRows, 'This workspace has no poll keys.')}
<section class="card"><form method="post" action="${path`/admin/workspaces/${ws.id}/poll-keys`}" class="row">${csrfField(pc)}
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

  router.post('/workspaces/:ws/api-keys', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const typed = { name: (ctx.state.form.get('name') ?? '').trim(), path: (ctx.state.form.get('path') ?? '').trim() };
    try {
      const made = await createApiKey({ store, now: () => clock.now() }, ws.id, typed, ctx.state.principal);
      await render(ctx, ws, {
        created: { what: `API key ${made.name}`, secret: made.key, details: html`<p class="hint">Its id is <code>${made.id}</code>. It opens <code>${made.path}</code> and the paths under it, sent as HTTP Basic <code>haplo:&lt;key&gt;</code>.</p>` },
      });
    } catch (err) {
      await render(ctx, ws, { ...shownError(err), apiKey: typed });
    }
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
      const { id, key } = await messages.createKey(ws.id, group);
      await audit(ctx, ws.id, 'create-poll-key', { group, id });
      const pollUrl = `/workspaces/${ws.id}/api/haplo-integration-messages/poll/${group}/fetch`;
      await render(ctx, ws, { created: { what: `poll key for ${group}`, secret: key, details: html`<p class="hint">Its id is <code>${id}</code>. Its poller fetches from <code>${pollUrl}</code>.</p>` } });
    } catch (err) {
      await render(ctx, ws, { ...shownError(err), group: typed });
    }
  });

  router.post('/workspaces/:ws/poll-keys/:id/revoke', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await act(ctx, deps, here(ws.id), async () => {
      const revoked = await messages.revokeKey(ws.id, ctx.params.id);
      await audit(ctx, ws.id, 'revoke-poll-key', { group: revoked.group, id: revoked.id });
      return { notice: `Poll key ${revoked.id} for ${revoked.group} revoked: its poller is refused from now on.` };
    });
  });
}
