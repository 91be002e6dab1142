// Scheduled webhooks and the plugins' schedules and hooks, with their next fire times in the
// workspace's zone and their last run (a fired one-time schedule shows it too); run now (then
// the run's page), pause and resume (webhooks). Creating and editing webhooks: pages/webhook.ts.
import { preview } from '../../../schedule/recurrence.ts';
import type { WebhookSpec } from '../../../schedule/webhooks.ts';
import type { RunSummary } from '../../../store/runs.ts';
import type { Schedule } from '../../../store/schedules.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { PlughostError } from '../../../errors.ts';
import { act, pageContext, sendPage, workspaceOf, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query, type SafeHtml } from '../html.ts';
import { badge, dataTable, page, postButton, zoned, type PageContext } from '../layout.ts';
import { runScheduleNow } from '../run-now.ts';

const zoneOf = (s: Schedule) => (s.recurrence as { timezone?: string }).timezone ?? 'UTC';

/** The next fire times (up to three) in the workspace zone, and in the schedule's own zone when it differs. */
function nextTimes(s: Schedule, ws: Workspace): SafeHtml {
  if (!s.active || s.nextRunAt === null) return html`<span class="hint">${s.active ? 'none' : 'paused'}</span>`;
  const times = [s.nextRunAt, ...preview(s.recurrence, s.nextRunAt, 2)];
  const own = zoneOf(s);
  return html`${times.map((t, i) => html`<div${i ? html` class="hint"` : ''}>${zoned(t, ws.timezone)}${own !== ws.timezone && i === 0 ? html`<div class="hint">(${zoned(t, own)})</div>` : ''}</div>`)}`;
}

/** When the schedule last ran, with the run's status, linked to the run. */
function lastRun(ws: Workspace, run: RunSummary | undefined): SafeHtml {
  if (!run) return html`<span class="hint">never</span>`;
  return html`<a href="${path`/admin/workspaces/${ws.id}/runs/${run.id}`}">${zoned(run.startedAt, ws.timezone)}</a> ${badge(run.status)}`;
}

export function scheduleRoutes(router: UiRouter, deps: UiDeps) {
  const { store, webhooks, scheduler, recorder } = deps;
  const here = (ws: string) => path`/admin/workspaces/${ws}/schedules`;
  const runsOf = (ws: string, s: Schedule) => path`/admin/workspaces/${ws}/runs` + query({ schedule: s.id });

  router.get('/workspaces/:ws/schedules', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const pc = pageContext(ctx, 'schedules', ws);
    const hooks = await store.schedules.list(ws.id, ['webhook', 'plugin', 'hook']);
    await recorder.flush();
    const last = await store.runs.lastOfSchedules(ws.id, hooks.map((s) => s.id));
    const names = new Map<string, string>();
    for (const s of hooks) if (s.installationId && !names.has(s.installationId)) names.set(s.installationId, (await store.installations.byId(s.installationId))?.pluginName ?? s.installationId);
    const webhookRows = hooks.filter((s) => s.kind === 'webhook').map((s) => webhookRow(pc, ws, s, last.get(s.id)));
    const pluginRows = hooks.filter((s) => s.kind !== 'webhook').map((s) => [
      s.name, s.kind === 'hook' ? 'Haplo hook' : 'plugin schedule',
      html`<a href="${path`/admin/workspaces/${ws.id}/installations/${s.installationId ?? ''}`}">${names.get(s.installationId ?? '') ?? ''}</a>`,
      nextTimes(s, ws), lastRun(ws, last.get(s.id)),
      html`${postButton(pc, path`/admin/workspaces/${ws.id}/schedules/${s.id}/run`, 'Run now')} <a href="${runsOf(ws.id, s)}">Runs</a>`,
    ]);
    const body = html`<p class="hint">Times are shown in the workspace's zone, ${ws.timezone}; hover over one for UTC.</p>
<h2>Scheduled webhooks</h2>
<p><a href="${path`/admin/workspaces/${ws.id}/webhooks/new`}">New scheduled webhook →</a></p>
${dataTable(['Webhook', 'When', 'Status', 'Next runs', 'Last run', 'Actions'], webhookRows, 'No scheduled webhooks yet.')}
<h2>Plugin schedules and hooks</h2>
${dataTable(['Name', 'Kind', 'Installation', 'Next runs', 'Last run', 'Actions'], pluginRows, 'No plugin schedules or hooks.')}`;
    sendPage(ctx, page(pc, 'Schedules', body));
  });

  function webhookRow(pc: PageContext, ws: Workspace, s: Schedule, last: RunSummary | undefined): SafeHtml[] {
    const spec = s.spec as unknown as WebhookSpec;
    const base = path`/admin/workspaces/${ws.id}/webhooks/${s.id}`;
    const when = spec.cron ? html`cron <code>${spec.cron}</code>` : html`${spec.frequency}`;
    return [
      html`${spec.description ? html`<div>${spec.description}</div>` : ''}<code>${spec.url}</code><div class="hint">${s.id}</div>`,
      html`${when}${spec.start ? html`<div class="hint">from ${spec.start}</div>` : ''}<div class="hint">${spec.timezone}</div>`,
      badge(s.active ? 'active' : 'paused'), nextTimes(s, ws), lastRun(ws, last),
      html`${postButton(pc, `${base}/run`, 'Run now')} ${postButton(pc, `${base}/${s.active ? 'pause' : 'resume'}`, s.active ? 'Pause' : 'Resume', { style: 'quiet' })}
<a href="${base}">Edit</a> <a href="${runsOf(ws.id, s)}">Runs</a>`,
    ];
  }

  router.post('/workspaces/:ws/webhooks/:id/run', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await runScheduleNow(ctx, deps, ws, await webhooks.get(ws.id, ctx.params.id), here(ws.id));
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
    await runScheduleNow(ctx, deps, ws, s, here(ws.id));
  });
}
