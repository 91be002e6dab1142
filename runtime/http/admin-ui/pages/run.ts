// One run: status, plugin, times (in the workspace's zone, UTC on hover), log and error; and
// Re-run, which runs the run's schedule now (a scheduled webhook, plugin schedule or hook). A
// run of another kind cannot be re-run: the page says why, with the button disabled.
import { pageContext, sendPage, seeOther, workspaceOf, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query } from '../html.ts';
import { badge, errorBox, page, postButton, zoned } from '../layout.ts';
import { rerunOf, runScheduleNow } from '../run-now.ts';

export function runPageRoutes(router: UiRouter, deps: UiDeps) {
  const { store, recorder, runs, sessions } = deps;
  const runPath = (ws: string, id: string) => path`/admin/workspaces/${ws}/runs/${id}`;

  router.get('/workspaces/:ws/runs/:id', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await runs.whenDone(ctx.params.id);
    await recorder.flush();
    const run = await store.runs.get(ws.id, ctx.params.id);
    const installation = run.installationId ? await store.installations.get(ws.id, run.installationId) : undefined;
    const can = rerunOf(run, run.scheduleId ? await store.schedules.get(run.scheduleId) : undefined);
    const pc = pageContext(ctx, 'runs', ws);
    const rerun = 'schedule' in can
      ? html`${postButton(pc, `${runPath(ws.id, run.id)}/rerun`, 'Re-run')} <span class="hint">runs its schedule now</span>`
      : html`<button type="button" disabled aria-describedby="no-rerun">Re-run</button> <span class="hint" id="no-rerun">${can.reason}</span>`;
    const body = html`${run.error ? errorBox(`${run.error.code}: ${run.error.message}`) : ''}<section class="card"><dl>
<dt>Status</dt><dd>${badge(run.status)}${run.httpStatus !== null ? html` <span class="hint">HTTP ${run.httpStatus}</span>` : ''}</dd>
<dt>Kind</dt><dd>${run.kind} <span class="hint">(${run.trigger}${run.attempt > 1 ? `, attempt ${run.attempt}` : ''})</span></dd>
<dt>Target</dt><dd><code>${run.target}</code></dd>
<dt>Started</dt><dd>${zoned(run.startedAt, ws.timezone)}</dd><dt>Finished</dt><dd>${zoned(run.finishedAt, ws.timezone)}</dd>
<dt>Duration</dt><dd>${run.durationMs === null ? '—' : `${run.durationMs} ms`}</dd>
${run.installationId ? html`<dt>Plugin</dt><dd>${installation
      ? html`<a href="${path`/admin/workspaces/${ws.id}/installations/${installation.id}`}">${installation.pluginName}</a> <span class="hint">${installation.id}</span>`
      : html`<span class="hint">${run.installationId} (uninstalled)</span>`}</dd>` : ''}
${run.scheduleId ? html`<dt>Schedule</dt><dd><a href="${path`/admin/workspaces/${ws.id}/runs` + query({ schedule: run.scheduleId })}">${run.scheduleId}</a></dd>` : ''}
${run.idempotencyKey ? html`<dt>Idempotency key</dt><dd><code>${run.idempotencyKey}</code></dd>` : ''}
<dt>Run id</dt><dd><code>${run.id}</code></dd></dl>
<div class="actions">${rerun}</div></section>
<h2>Log</h2>${run.log ? html`<pre class="log">${run.log}</pre>` : html`<p class="hint">The run wrote nothing to its log.</p>`}`;
    sendPage(ctx, page(pc, `Run ${run.kind} · ${run.status}`, body));
  });

  router.post('/workspaces/:ws/runs/:id/rerun', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const run = await store.runs.get(ws.id, ctx.params.id);
    const can = rerunOf(run, run.scheduleId ? await store.schedules.get(run.scheduleId) : undefined);
    if ('reason' in can) {
      await sessions.flash(ctx, { kind: 'error', text: can.reason });
      return seeOther(ctx, runPath(ws.id, run.id));
    }
    await runScheduleNow(ctx, deps, ws, can.schedule, runPath(ws.id, run.id));
  });
}
