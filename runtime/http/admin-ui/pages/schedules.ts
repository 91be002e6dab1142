// Scheduled webhooks and the plugins' schedules and hooks, with their next fire times in the
// workspace's zone; run now (then the run's page), pause and resume (webhooks).
import { preview } from '../../../schedule/recurrence.ts';
import type { WebhookSpec } from '../../../schedule/webhooks.ts';
import type { Schedule } from '../../../store/schedules.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { PlughostError } from '../../../errors.ts';
import { act, pageContext, sendPage, workspaceOf, type UiContext, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query, type SafeHtml } from '../html.ts';
import { badge, page, postButton, zoned, type PageContext } from '../layout.ts';

const zoneOf = (s: Schedule) => (s.recurrence as { timezone?: string }).timezone ?? 'UTC';

/** The next fire times (up to three) in the workspace zone, and in the schedule's own zone when it differs. */
function nextTimes(s: Schedule, ws: Workspace): SafeHtml {
  if (!s.active || s.nextRunAt === null) return html`<span class="hint">${s.active ? 'none' : 'paused'}</span>`;
  const times = [s.nextRunAt, ...preview(s.recurrence, s.nextRunAt, 2)];
  const own = zoneOf(s);
  return html`${times.map((t, i) => html`<div${i ? html` class="hint"` : ''}>${zoned(t, ws.timezone)}${own !== ws.timezone && i === 0 ? html`<div class="hint">(${zoned(t, own)})</div>` : ''}</div>`)}`;
}

export function scheduleRoutes(router: UiRouter, deps: UiDeps) {
  const { store, webhooks, scheduler, recorder } = deps;
  const here = (ws: string) => path`/admin/workspaces/${ws}/schedules`;
  const runsOf = (ws: string, s: Schedule) => path`/admin/workspaces/${ws}/runs` + query({ schedule: s.id });

  router.get('/workspaces/:ws/schedules', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const pc = pageContext(ctx, 'schedules', ws);
    const hooks = await store.schedules.list(ws.id, ['webhook', 'plugin', 'hook']);
    const names = new Map<string, string>();
    for (const s of hooks) if (s.installationId && !names.has(s.installationId)) names.set(s.installationId, (await store.installations.byId(s.installationId))?.pluginName ?? s.installationId);
    const webhookRows = hooks.filter((s) => s.kind === 'webhook').map((s) => webhookRow(pc, ws, s));
    const pluginRows = hooks.filter((s) => s.kind !== 'webhook').map((s) => html`<tr>
<td>${s.name}</td><td>${s.kind === 'hook' ? 'Haplo hook' : 'plugin schedule'}</td>
<td><a href="${path`/admin/workspaces/${ws.id}/installations/${s.installationId ?? ''}`}">${names.get(s.installationId ?? '') ?? ''}</a></td>
<td>${nextTimes(s, ws)}</td>
<td>${postButton(pc, path`/admin/workspaces/${ws.id}/schedules/${s.id}/run`, 'Run now')} <a href="${runsOf(ws.id, s)}">Runs</a></td></tr>`);
    const body = html`<p class="hint">Times are shown in the workspace's zone, ${ws.timezone}.</p>
<h2>Scheduled webhooks</h2>
<table><thead><tr><th>Webhook</th><th>When</th><th>Status</th><th>Next runs</th><th>Actions</th></tr></thead>
<tbody>${webhookRows.length ? webhookRows : html`<tr><td colspan="5" class="hint">No scheduled webhooks. Create them with POST /api/v1/workspaces/${ws.id}/scheduled-webhooks.</td></tr>`}</tbody></table>
<h2>Plugin schedules and hooks</h2>
<table><thead><tr><th>Name</th><th>Kind</th><th>Installation</th><th>Next runs</th><th>Actions</th></tr></thead>
<tbody>${pluginRows.length ? pluginRows : html`<tr><td colspan="5" class="hint">No plugin schedules or hooks.</td></tr>`}</tbody></table>`;
    sendPage(ctx, page(pc, 'Schedules', body));
  });

  function webhookRow(pc: PageContext, ws: Workspace, s: Schedule): SafeHtml {
    const spec = s.spec as unknown as WebhookSpec;
    const base = path`/admin/workspaces/${ws.id}/webhooks/${s.id}`;
    const when = spec.cron ? html`cron <code>${spec.cron}</code>` : html`${spec.frequency}`;
    return html`<tr><td>${spec.description ? html`<div>${spec.description}</div>` : ''}<code>${spec.url}</code><div class="hint">${s.id}</div></td>
<td>${when}${spec.start ? html`<div class="hint">from ${spec.start}</div>` : ''}<div class="hint">${spec.timezone}</div></td>
<td>${badge(s.active ? 'active' : 'paused')}</td><td>${nextTimes(s, ws)}</td>
<td>${postButton(pc, `${base}/run`, 'Run now')} ${postButton(pc, `${base}/${s.active ? 'pause' : 'resume'}`, s.active ? 'Pause' : 'Resume', { style: 'quiet' })}
<a href="${runsOf(ws.id, s)}">Runs</a></td></tr>`;
  }

  /** Runs a schedule now (as the REST API's run does) and goes to its run. */
  const runNow = async (ctx: UiContext, ws: Workspace, s: Schedule, label: string) => act(ctx, deps, here(ws.id), async () => {
    const { occurrenceId } = await scheduler.runNow(s);
    const occurrence = await store.occurrences.get(occurrenceId);
    await recorder.flush();
    if (!occurrence?.lastRunId) return { notice: `${label} did not run: ${occurrence?.error ?? occurrence?.status ?? 'unknown outcome'}.`, failed: true };
    const run = await store.runs.get(ws.id, occurrence.lastRunId);
    return { notice: `Ran ${label} now: ${run.status}.`, to: path`/admin/workspaces/${ws.id}/runs/${run.id}`, failed: run.status !== 'succeeded' };
  });

  router.post('/workspaces/:ws/webhooks/:id/run', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const s = await webhooks.get(ws.id, ctx.params.id);
    await runNow(ctx, ws, s, `webhook ${s.id}`);
  });
  for (const change of ['pause', 'resume'] as const) {
    router.post(`/workspaces/:ws/webhooks/:id/${change}`, async (ctx) => {
      const ws = await workspaceOf(ctx, deps);
      await act(ctx, deps, here(ws.id), async () => {
        await webhooks.change(ws.id, ctx.params.id, { isActive: change === 'resume' });
        void scheduler.wake();
        return { notice: `Webhook ${ctx.params.id} ${change === 'pause' ? 'paused' : 'resumed'}.` };
      });
    });
  }
  router.post('/workspaces/:ws/schedules/:id/run', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const s = await store.schedules.get(ctx.params.id);
    if (!s || s.workspaceId !== ws.id || s.kind === 'webhook') throw new PlughostError('SCHEDULE_NOT_FOUND', `no plugin schedule or hook \`${ctx.params.id}\` in workspace \`${ws.id}\``);
    await runNow(ctx, ws, s, s.name ?? s.id);
  });
}
