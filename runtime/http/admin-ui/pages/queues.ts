// Integration-message queues (Haplo): counts, send now, a queue's messages with "mark unsent",
// and adding a message by hand. Every manual act goes to the audit log, as over the REST API.
import type { Context } from 'koa';
import { PlughostError } from '../../../errors.ts';
import { checkGroup } from '../../../haplo/integration-messages.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { act, actorOf, pageContext, readableError, seeOther, sendPage, workspaceOf, type UiContext, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, prettyJson, query } from '../html.ts';
import { badge, csrfField, dataTable, errorBox, page, postButton, zoned } from '../layout.ts';

const PAGE = 50;

export function queueRoutes(router: UiRouter, deps: UiDeps) {
  const { store, messages, cloneGuard, clock, auth, sessions } = deps;
  const listPath = (ws: string) => path`/admin/workspaces/${ws}/queues`;
  const queuePath = (ws: string, group: string) => path`/admin/workspaces/${ws}/queues/${group}`;
  const audit = (ctx: UiContext, ws: string, action: string, detail: Record<string, unknown>) => store.audit.record(ws, actorOf(ctx.state.principal), action, detail, clock.now());

  router.get('/workspaces/:ws/queues', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const pc = pageContext(ctx, 'queues', ws);
    const [queues, sending] = await Promise.all([store.messages.queues(ws.id), cloneGuard.status()]);
    const rows = queues.map((q) => [
      html`<a href="${queuePath(ws.id, q.group)}">${q.title}</a><div class="hint"><code>${q.group}</code> · ${q.method}</div><div class="hint">${q.description}</div>`,
      html`${badge('unsent')} ${q.unsent}`, html`${badge('sent')} ${q.sent}`, zoned(q.lastSentAt, ws.timezone),
      q.lastError ? html`<div class="flash error">${q.lastError}</div><div class="hint">${zoned(q.lastErrorAt, ws.timezone)}</div>` : '',
      q.method === 'send' ? postButton(pc, `${queuePath(ws.id, q.group)}/send`, 'Send now', { fields: { from: 'list' } }) : html`<span class="hint">polled</span>`,
    ]);
    const guard = sending.enabled ? '' : html`${errorBox('This store was copied from another host, so sending integration messages is off here.')}
${ctx.state.principal.kind === 'operator' ? postButton(pc, '/admin/sending/enable', 'Enable sending on this host', { style: 'danger' }) : html`<p class="hint">An operator can enable it.</p>`}`;
    const body = html`${guard}${dataTable(['Queue', 'Unsent', 'Sent', 'Last sent', 'Last error', 'Actions'], rows, 'No message queues in this workspace.')}`;
    sendPage(ctx, page(pc, 'Message queues', body));
  });

  const renderQueue = async (ctx: Context & UiContext, ws: Workspace, group: string, failed?: { error: string; text: string; status: number }) => {
    const status = typeof ctx.query.status === 'string' && ['unsent', 'sending', 'sent'].includes(ctx.query.status) ? ctx.query.status : undefined;
    const before = typeof ctx.query.cursor === 'string' && /^\d{1,15}$/.test(ctx.query.cursor) ? Number(ctx.query.cursor) : undefined;
    const [queue, list] = await Promise.all([store.messages.queue(ws.id, group), store.messages.list(ws.id, group, status, PAGE + 1, before)]);
    const pc = pageContext(ctx, 'queues', ws);
    const here = queuePath(ws.id, group);
    const rows = list.slice(0, PAGE).map((m) => [
      m.id, badge(m.status), html`${zoned(m.createdAt, ws.timezone)}${m.sentAt !== null ? html`<div class="hint">sent ${zoned(m.sentAt, ws.timezone)}</div>` : ''}`,
      html`<pre>${prettyJson(m.data)}</pre>`, m.status === 'sent' ? postButton(pc, `${here}/messages/${m.id}/unsent`, 'Mark unsent', { style: 'quiet' }) : '',
    ]);
    const tabs = [undefined, 'unsent', 'sent'].map((s) => (s === status ? html`<strong>${s ?? 'all'}</strong>` : html`<a href="${here + query({ status: s })}">${s ?? 'all'}</a>`));
    const body = html`${failed ? errorBox(failed.error) : ''}<p class="hint"><code>${group}</code>${queue ? html` · ${queue.method} · ${queue.description}` : ' · not discovered'}</p>
${queue?.method !== 'poll' ? postButton(pc, `${here}/send`, 'Send now') : ''}
<p>Show: ${tabs.map((t, i) => html`${i ? ' · ' : ''}${t}`)}</p>
${dataTable(['Id', 'Status', 'Added', 'Data', 'Actions'], rows, 'No messages.')}
${list.length > PAGE ? html`<p><a href="${here + query({ status, cursor: list[PAGE - 1]!.id })}">Older messages →</a></p>` : ''}
<h2>Add a message by hand</h2><section class="card"><form method="post" action="${here}/messages">${csrfField(pc)}
<label for="data">Message data (a JSON object)</label><textarea id="data" name="data" required>${failed?.text ?? '{\n  \n}'}</textarea>
<p><button type="submit">Add message</button></p></form></section>`;
    sendPage(ctx, page(pc, queue?.title ?? group, body), failed?.status ?? 200);
  };

  router.get('/workspaces/:ws/queues/:group', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await renderQueue(ctx, ws, checkGroup(ctx.params.group));
  });

  router.post('/workspaces/:ws/queues/:group/send', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const group = checkGroup(ctx.params.group);
    const back = ctx.state.form.get('from') === 'list' ? listPath(ws.id) : queuePath(ws.id, group);
    await act(ctx, deps, back, async () => {
      await audit(ctx, ws.id, 'send', { group });
      const { sent } = await messages.send(ws.id, group);
      return { notice: sent ? `Sent ${sent} message(s) of ${group}.` : `${group} had no unsent messages.` };
    });
  });

  router.post('/workspaces/:ws/queues/:group/messages', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const group = checkGroup(ctx.params.group);
    const text = ctx.state.form.get('data') ?? '';
    try {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (err) {
        throw new PlughostError('INVALID_JSON', `the message data is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new PlughostError('INVALID_BODY', 'the message data must be a JSON object, such as {"name": "ada"}');
      const id = await store.messages.add(ws.id, group, data, clock.now(), deps.options.limits);
      await audit(ctx, ws.id, 'add', { group, id });
      await sessions.flash(ctx, { kind: 'notice', text: `Message ${id} added to ${group}.` });
      seeOther(ctx, queuePath(ws.id, group));
    } catch (err) {
      const message = readableError(err);
      if (message === undefined) throw err;
      await renderQueue(ctx, ws, group, { error: `${(err as PlughostError).code}: ${message}`, text, status: (err as PlughostError).status });
    }
  });

  router.post('/workspaces/:ws/queues/:group/messages/:id/unsent', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const group = checkGroup(ctx.params.group);
    await act(ctx, deps, queuePath(ws.id, group), async () => {
      const id = Number(ctx.params.id);
      if (!Number.isInteger(id) || !(await store.messages.markUnsent(ws.id, group, id))) throw new PlughostError('QUEUE_NOT_FOUND', `no message ${ctx.params.id} in queue ${group}`);
      await audit(ctx, ws.id, 'mark-unsent', { group, id });
      return { notice: `Message ${id} is unsent again; the next send delivers it.` };
    });
  });

  router.post('/sending/enable', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    await cloneGuard.enable();
    await sessions.flash(ctx, { kind: 'notice', text: 'Sending integration messages is enabled on this host.' });
    seeOther(ctx, '/admin/workspaces');
  });
}
