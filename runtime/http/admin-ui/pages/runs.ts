// Run history, newest first, with the plugin (installation) of each run; filtered by status,
// kind, plugin, schedule, start time (from/to, read in the workspace's zone) and text in the
// target or error message; paged by cursor both ways (Newer, Older); a Re-run button on each
// run that can be re-run. One run's page: pages/run.ts.
import type { Context } from 'koa';
import { PlughostError } from '../../../errors.ts';
import { parseWall, wallToInstant } from '../../../schedule/zoned-time.ts';
import type { Installation } from '../../../store/installations.ts';
import { parsePage } from '../../../store/page.ts';
import type { RunFilter, RunSummary } from '../../../store/runs.ts';
import type { Workspace } from '../../../store/workspaces.ts';
import { pageContext, sendPage, workspaceOf, type UiDeps, type UiRouter } from '../context.ts';
import { html, path, query, type SafeHtml } from '../html.ts';
import { badge, dataTable, page, postButton, zoned, type PageContext } from '../layout.ts';
import { rerunOf } from '../run-now.ts';

export const KINDS = ['route', 'webhook', 'event', 'smi', 'hook', 'background', 'service', 'send'];
const STATUSES = ['running', 'succeeded', 'failed', 'timed-out'];

function filter(value: unknown, name: string, allowed?: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 100 || (allowed && !allowed.includes(value))) {
    throw new PlughostError('INVALID_QUERY', `${name} must be ${allowed ? `one of ${allowed.join(', ')}` : 'a single id'}`);
  }
  return value;
}

/** A local date-time of the workspace's zone, as a datetime-local field sends it. */
function localTime(value: unknown, name: string, tz: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || parseWall(value) === undefined) {
    throw new PlughostError('INVALID_QUERY', `${name} must be a local date and time such as 2026-05-04T09:00 (read in ${tz})`);
  }
  return value.trim();
}

/**
 * The instant a `to` ends: it holds the whole of what it names, so `to` 09:30 includes runs
 * started at 09:30:59, and a date alone holds the day.
 */
function endOf(text: string, tz: string): number {
  const wall = parseWall(text)!;
  const step = /[T ]\d{2}:\d{2}:\d{2}$/.test(text) ? 1000 : /[T ]\d{2}:\d{2}$/.test(text) ? 60_000 : 86_400_000;
  return wallToInstant(wall + step, tz);
}

/** The list's filters as the query gave them (links carry them on). */
function filtersOf(ctx: Context, ws: Workspace) {
  const q = ctx.query;
  const search = q.q === undefined || q.q === '' ? undefined : q.q;
  if (search !== undefined && (typeof search !== 'string' || search.length > 200)) throw new PlughostError('INVALID_QUERY', 'the search text must be one text of at most 200 characters');
  return {
    status: filter(q.status, 'status', STATUSES), kind: filter(q.kind, 'kind', KINDS),
    installation: filter(q.installation, 'installation'), schedule: filter(q.schedule, 'schedule'),
    from: localTime(q.from, 'from', ws.timezone), to: localTime(q.to, 'to', ws.timezone), q: search?.trim() || undefined,
  };
}
type Filters = ReturnType<typeof filtersOf>;

const storeFilter = (f: Filters, tz: string): RunFilter => ({
  status: f.status, kind: f.kind, installationId: f.installation, scheduleId: f.schedule, search: f.q,
  startedFrom: f.from === undefined ? undefined : wallToInstant(parseWall(f.from)!, tz), startedBefore: f.to === undefined ? undefined : endOf(f.to, tz),
});

/** The installations a page names, by id: the workspace's first 200 (for the filter), and those of its runs. */
async function installationsOf(deps: UiDeps, ws: Workspace, runs: RunSummary[]): Promise<Map<string, Installation>> {
  const out = new Map((await deps.store.installations.list(ws.id, { limit: 200 })).data.map((i) => [i.id, i]));
  for (const id of new Set(runs.map((r) => r.installationId))) {
    if (id === null || out.has(id)) continue;
    const i = await deps.store.installations.byId(id);
    if (i && i.workspaceId === ws.id) out.set(id, i);
  }
  return out;
}

export function runRoutes(router: UiRouter, deps: UiDeps) {
  const { store, recorder } = deps;

  function filterForm(ws: Workspace, f: Filters, installations: Map<string, Installation>, here: string): SafeHtml {
    const select = (name: string, label: string, values: Array<[string, string]>, chosen: string | undefined) => html`<div><label for="f-${name}">${label}</label>
<select id="f-${name}" name="${name}"><option value="">any</option>${values.map(([v, text]) => html`<option value="${v}"${v === chosen ? html` selected` : ''}>${text}</option>`)}</select></div>`;
    const plugins: Array<[string, string]> = [...installations.values()].map((i) => [i.id, `${i.pluginName} (${i.namespace})`]);
    if (f.installation && !installations.has(f.installation)) plugins.push([f.installation, `${f.installation} (uninstalled)`]);
    const any = Object.values(f).some((v) => v !== undefined);
    return html`<section class="card"><form method="get" action="${here}" class="row">
${select('status', 'Status', STATUSES.map((s) => [s, s]), f.status)}${select('kind', 'Kind', KINDS.map((k) => [k, k]), f.kind)}
${select('installation', 'Plugin', plugins, f.installation)}
<div><label for="f-from">Started from</label><input type="datetime-local" id="f-from" name="from" value="${f.from ?? ''}"></div>
<div><label for="f-to">to</label><input type="datetime-local" id="f-to" name="to" value="${f.to ?? ''}"></div>
<div><label for="f-q">Target or error contains</label><input type="text" id="f-q" name="q" value="${f.q ?? ''}" maxlength="200"></div>
${f.schedule ? html`<input type="hidden" name="schedule" value="${f.schedule}">` : ''}
<button type="submit" class="quiet">Filter</button>${any ? html` <a href="${here}">Clear filters</a>` : ''}</form>
<p class="hint">From and to are read in the workspace's zone, ${ws.timezone}; "to" includes the minute it names.</p>
${f.schedule ? html`<p class="hint">Runs of schedule <code>${f.schedule}</code></p>` : ''}</section>`;
  }

  function pluginCell(ws: Workspace, r: RunSummary, installations: Map<string, Installation>): SafeHtml {
    if (!r.installationId) return html`<span class="hint">—</span>`;
    const i = installations.get(r.installationId);
    return i ? html`<a href="${path`/admin/workspaces/${ws.id}/installations/${i.id}`}">${i.pluginName}</a>` : html`<span class="hint">${r.installationId} (uninstalled)</span>`;
  }

  async function rerunCells(pc: PageContext, ws: Workspace, runs: RunSummary[]): Promise<Map<string, SafeHtml>> {
    const schedules = await store.schedules.getMany([...new Set(runs.flatMap((r) => (r.scheduleId ? [r.scheduleId] : [])))]);
    return new Map(runs.map((r) => {
      const can = rerunOf(r, r.scheduleId ? schedules.get(r.scheduleId) : undefined);
      return [r.id, 'schedule' in can ? postButton(pc, path`/admin/workspaces/${ws.id}/runs/${r.id}/rerun`, 'Re-run', { style: 'quiet' })
        : html`<button type="button" class="quiet" disabled title="${can.reason}">Re-run</button>`];
    }));
  }

  router.get('/workspaces/:ws/runs', async (ctx) => {
    const ws = await workspaceOf(ctx, deps);
    const f = filtersOf(ctx, ws);
    const { limit, cursor } = parsePage(ctx.query);
    const newer = typeof ctx.query.newer === 'string' && ctx.query.newer !== '' ? ctx.query.newer : undefined;
    await recorder.flush();
    const list = await store.runs.window(ws.id, storeFilter(f, ws.timezone), { limit, older: cursor, newer });
    const installations = await installationsOf(deps, ws, list.data);
    const pc = pageContext(ctx, 'runs', ws);
    const here = path`/admin/workspaces/${ws.id}/runs`;
    const rerun = await rerunCells(pc, ws, list.data);
    const rows = list.data.map((r) => [
      html`<a href="${path`/admin/workspaces/${ws.id}/runs/${r.id}`}">${zoned(r.startedAt, ws.timezone)}</a>`,
      pluginCell(ws, r, installations),
      html`${r.kind}<div class="hint">${r.trigger}${r.attempt > 1 ? ` · attempt ${r.attempt}` : ''}</div>`, html`<code>${r.target}</code>`,
      html`${badge(r.status)}${r.httpStatus !== null ? html` <span class="hint">HTTP ${r.httpStatus}</span>` : ''}`,
      r.durationMs === null ? '' : `${r.durationMs} ms`,
      r.error ? html`<code>${r.error.code}</code> ${r.error.message.split('\n')[0]!.slice(0, 200)}` : '',
      rerun.get(r.id),
    ]);
    const keep = { ...f, limit: ctx.query.limit === undefined ? undefined : limit };
    const pager = html`<p class="row">${list.newerCursor ? html`<a href="${here + query({ ...keep, newer: list.newerCursor })}">← Newer runs</a>` : ''}
${list.olderCursor ? html`<a href="${here + query({ ...keep, cursor: list.olderCursor })}">Older runs →</a>` : ''}</p>`;
    const body = html`${filterForm(ws, f, installations, here)}
${dataTable(['Started', 'Plugin', 'Kind', 'Target', 'Status', 'Duration', 'Error', 'Actions'], rows, 'No runs match.')}
${pager}`;
    sendPage(ctx, page(pc, 'Run history', body));
  });
}
