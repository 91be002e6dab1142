// A scheduled webhook's page: create one, or edit, run now and delete one. "Preview next runs"
// shows the fire times a save would give, in the workspace's zone, without saving; a failed
// preview or save shows the form again as typed, with the error. Saving and previewing go
// through webhooks.create, .change and .preview, as the REST API does, so the preview is what a
// save gives.
import type { Context } from 'koa';
import type { WebhookPreview } from '../../../schedule/webhooks.ts';
import type { Schedule } from '../../../store/schedules.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { PlughostError } from '../../../errors.ts';
import { act, pageContext, sendPage, seeOther, shownError, workspaceOf, type UiContext, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query } from '../html.ts';
import { badge, csrfField, errorBox, page, postButton, zoned } from '../layout.ts';
import { changeInput, createInput, fieldsFromForm, fieldsOf, blankFields, webhookFields, type WebhookFields } from '../webhook-form.ts';

const PREVIEW_COUNT = 5;

interface Shown { error?: string; status?: number; preview?: WebhookPreview }

export function webhookRoutes(router: UiRouter, deps: UiDeps) {
  const { webhooks, scheduler, sessions } = deps;
  const listPath = (ws: string) => path`/admin/workspaces/${ws}/schedules`;
  const pagePath = (ws: string, id?: string) => (id ? path`/admin/workspaces/${ws}/webhooks/${id}` : path`/admin/workspaces/${ws}/webhooks/new`);

  const render = (ctx: Context, ws: Workspace, stored: Schedule | undefined, f: WebhookFields, shown: Shown = {}) => {
    const pc = pageContext(ctx, 'schedules', ws);
    const action = stored ? pagePath(ws.id, stored.id) : path`/admin/workspaces/${ws.id}/webhooks`;
    const p = shown.preview;
    const previewBox = p ? html`<section class="card" id="preview"><h2>Next runs if saved</h2>
${p.times.length ? html`<ol class="times">${p.times.map((t) => html`<li>${zoned(t, ws.timezone)}${p.timezone !== ws.timezone ? html` <span class="hint">(${zoned(t, p.timezone)})</span>` : ''}</li>`)}</ol>`
    : html`<p>With these settings it would never fire.</p>`}
${p.active ? '' : html`<p class="hint">It would be paused: it does not fire until resumed, and then fires at the next of its times after the resume.</p>`}
<p class="hint">Nothing is saved yet.</p></section>` : '';
    const form = html`<section class="card"><form method="post" action="${action}">${csrfField(pc)}
${webhookFields(f, ws)}
<p><button type="submit" name="action" value="preview" class="quiet">Preview next runs</button>
<button type="submit" name="action" value="save">${stored ? 'Save changes' : 'Create webhook'}</button></p></form></section>`;
    let manage = html``;
    if (stored) {
      const base = pagePath(ws.id, stored.id);
      manage = html`<h2>Now</h2><section class="card"><p>${badge(stored.active ? 'active' : 'paused')}
${stored.active && stored.nextRunAt !== null ? html` next run ${zoned(stored.nextRunAt, ws.timezone)}` : ''}</p>
<div class="actions">${postButton(pc, `${base}/run`, 'Run now')} ${postButton(pc, `${base}/${stored.active ? 'pause' : 'resume'}`, stored.active ? 'Pause' : 'Resume', { style: 'quiet' })}
<a href="${path`/admin/workspaces/${ws.id}/runs` + query({ schedule: stored.id })}">Its runs</a></div></section>
<h2>Delete</h2><section class="card">${postButton(pc, `${base}/delete`, 'Delete webhook', {
        style: 'danger', extra: html`<label><input type="checkbox" name="confirm" value="yes" required> Delete this webhook and its schedule (its runs stay in the history)</label>`,
      })}</section>`;
    }
    const body = html`${shown.error ? errorBox(shown.error) : ''}${stored ? html`<p class="hint"><code>${stored.id}</code></p>` : ''}${previewBox}${form}${manage}
<p><a href="${listPath(ws.id)}">← All schedules</a></p>`;
    const title = stored ? (stored.spec as { description?: string }).description || `Webhook ${stored.id}` : 'New scheduled webhook';
    sendPage(ctx, page(pc, title, body), shown.status ?? 200);
  };

  /** Preview or save, from the form; on failure the form again, as typed. */
  const submit = async (ctx: UiContext, ws: Workspace, stored: Schedule | undefined) => {
    const f = fieldsFromForm(ctx.state.form);
    const previewing = ctx.state.form.get('action') === 'preview';
    try {
      let view: ReturnType<typeof webhooks.view>;
      if (stored) {
        const input = changeInput(f, fieldsOf(webhooks.view(stored)));
        if (previewing) return render(ctx, ws, stored, f, { preview: await webhooks.preview(ws.id, input, PREVIEW_COUNT, stored.id) });
        view = await webhooks.change(ws.id, stored.id, input);
      } else {
        const input = createInput(f);
        if (previewing) return render(ctx, ws, stored, f, { preview: await webhooks.preview(ws.id, input, PREVIEW_COUNT) });
        view = await webhooks.create(ws.id, input);
      }
      void scheduler.wake();
      await sessions.flash(ctx, { kind: 'notice', text: `Webhook ${view.id} ${stored ? 'saved' : 'created'}.` });
      seeOther(ctx, listPath(ws.id));
    } catch (err) {
      render(ctx, ws, stored, f, shownError(err));
    }
  };

  router.get('/workspaces/:ws/webhooks/new', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    render(ctx, ws, undefined, blankFields(ws));
  });
  router.post('/workspaces/:ws/webhooks', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await submit(ctx, ws, undefined);
  });
  router.get('/workspaces/:ws/webhooks/:id', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const stored = await webhooks.get(ws.id, ctx.params.id);
    render(ctx, ws, stored, fieldsOf(webhooks.view(stored)));
  });
  router.post('/workspaces/:ws/webhooks/:id', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await submit(ctx, ws, await webhooks.get(ws.id, ctx.params.id));
  });
  router.post('/workspaces/:ws/webhooks/:id/delete', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await act(ctx, deps, pagePath(ws.id, ctx.params.id), async () => {
      if (ctx.state.form.get('confirm') !== 'yes') throw new PlughostError('INVALID_BODY', 'tick the box to confirm the delete');
      await webhooks.remove(ws.id, ctx.params.id);
      return { notice: `Webhook ${ctx.params.id} deleted.`, to: listPath(ws.id) };
    });
  });
}
