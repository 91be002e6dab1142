// Run history, newest first, filtered by status and kind (and by installation or schedule when
// linked from them); one run with its log and error.
import { PlughostError } from '../../../errors.ts';
import { parsePage } from '../../../store/page.ts';
import { pageContext, sendPage, workspaceOf, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query } from '../html.ts';
import { badge, errorBox, page, zoned } from '../layout.ts';

const KINDS = ['route', 'webhook', 'event', 'smi', 'hook', 'background', 'service', 'send'];
const STATUSES = ['running', 'succeeded', 'failed', 'timed-out'];

function filter(value: unknown, name: string, allowed?: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 100 || (allowed && !allowed.includes(value))) {
    throw new PlughostError('INVALID_QUERY', `${name} must be ${allowed ? `one of ${allowed.join(', ')}` : 'a single id'}`);
  }
  return value;
}

export function runRoutes(router: UiRouter, deps: UiDeps) {
  const { store, recorder, runs } = deps;

  router.get('/workspaces/:ws/runs', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const f = {
      status: filter(ctx.query.status, 'status', STATUSES), kind: filter(ctx.query.kind, 'kind', KINDS),
      installation: filter(ctx.query.installation, 'installation'), schedule: filter(ctx.query.schedule, 'schedule'),
    };
    await recorder.flush();
    const list = await store.runs.list(ws.id, { status: f.status, kind: f.kind, installationId: f.installation, scheduleId: f.schedule }, parsePage(ctx.query));
    const pc = pageContext(ctx, 'runs', ws);
    const here = path`/admin/workspaces/${ws.id}/runs`;
    const select = (name: string, label: string, values: string[], chosen: string | undefined) => html`<div><label for="f-${name}">${label}</label>
<select id="f-${name}" name="${name}"><option value="">any</option>${values.map((v) => html`<option${v === chosen ? html` selected` : ''}>${v}</option>`)}</select></div>`;
    const rows = list.data.map((r) => html`<tr>
<td><a href="${path`/admin/workspaces/${ws.id}/runs/${r.id}`}">${zoned(r.startedAt, ws.timezone)}</a></td>
<td>${r.kind}<div class="hint">${r.trigger}${r.attempt > 1 ? ` · attempt ${r.attempt}` : ''}</div></td><td><code>${r.target}</code></td>
<td>${badge(r.status)}${r.httpStatus !== null ? html` <span class="hint">HTTP ${r.httpStatus}</span>` : ''}</td>
<td>${r.durationMs === null ? '' : `${r.durationMs} ms`}</td><td>${r.error ? html`<code>${r.error.code}</code> ${r.error.message.split('\n')[0]!.slice(0, 200)}` : ''}</td></tr>`);
    const body = html`<section class="card"><form method="get" action="${here}" class="row">
${select('status', 'Status', STATUSES, f.status)}${select('kind', 'Kind', KINDS, f.kind)}
${f.installation ? html`<input type="hidden" name="installation" value="${f.installation}">` : ''}${f.schedule ? html`<input type="hidden" name="schedule" value="${f.schedule}">` : ''}
<button type="submit" class="quiet">Filter</button>${f.status || f.kind || f.installation || f.schedule ? html` <a href="${here}">Clear filters</a>` : ''}</form>
${f.installation ? html`<p class="hint">Runs of installation <code>${f.installation}</code></p>` : ''}${f.schedule ? html`<p class="hint">Runs of schedule <code>${f.schedule}</code></p>` : ''}</section>
<table><thead><tr><th>Started</th><th>Kind</th><th>Target</th><th>Status</th><th>Duration</th><th>Error</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="6" class="hint">No runs match.</td></tr>`}</tbody></table>
${list.nextCursor ? html`<p><a href="${here + query({ ...f, cursor: list.nextCursor })}">Older runs →</a></p>` : ''}`;
    sendPage(ctx, page(pc, 'Run history', body));
  });

  router.get('/workspaces/:ws/runs/:id', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    await runs.whenDone(ctx.params.id);
    await recorder.flush();
    const run = await store.runs.get(ws.id, ctx.params.id);
    const pc = pageContext(ctx, 'runs', ws);
    const body = html`${run.error ? errorBox(`${run.error.code}: ${run.error.message}`) : ''}<section class="card"><dl>
<dt>Status</dt><dd>${badge(run.status)}${run.httpStatus !== null ? html` <span class="hint">HTTP ${run.httpStatus}</span>` : ''}</dd>
<dt>Kind</dt><dd>${run.kind} <span class="hint">(${run.trigger}${run.attempt > 1 ? `, attempt ${run.attempt}` : ''})</span></dd>
<dt>Target</dt><dd><code>${run.target}</code></dd>
<dt>Started</dt><dd>${zoned(run.startedAt, ws.timezone)}</dd><dt>Finished</dt><dd>${zoned(run.finishedAt, ws.timezone)}</dd>
<dt>Duration</dt><dd>${run.durationMs === null ? '—' : `${run.durationMs} ms`}</dd>
${run.installationId ? html`<dt>Installation</dt><dd><a href="${path`/admin/workspaces/${ws.id}/installations/${run.installationId}`}">${run.installationId}</a></dd>` : ''}
${run.scheduleId ? html`<dt>Schedule</dt><dd><a href="${path`/admin/workspaces/${ws.id}/runs` + query({ schedule: run.scheduleId })}">${run.scheduleId}</a></dd>` : ''}
${run.idempotencyKey ? html`<dt>Idempotency key</dt><dd><code>${run.idempotencyKey}</code></dd>` : ''}
<dt>Run id</dt><dd><code>${run.id}</code></dd></dl></section>
<h2>Log</h2>${run.log ? html`<pre class="log">${run.log}</pre>` : html`<p class="hint">The run wrote nothing to its log.</p>`}`;
    sendPage(ctx, page(pc, `Run ${run.kind} · ${run.status}`, body));
  });
}
