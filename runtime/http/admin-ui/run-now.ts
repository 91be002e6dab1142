// Running a schedule now from the admin UI, as the REST API's run does (scheduler.runNow), then
// going to its run; and which runs can be re-run that way: a run of a scheduled webhook, plugin
// schedule or hook re-runs its schedule now. Other kinds keep nothing to run again with (a route
// call's request, an event's payload), so they cannot be.
import type { RunKind, RunSummary } from '../../store/runs.ts';
import type { Schedule } from '../../store/schedules.ts';
import type { Workspace } from '../../store/workspaces.ts';
import { act, type UiContext, type UiDeps } from './context.ts';
import { path } from './html.ts';

/** The name a schedule goes by in notices: its id for a webhook, else its plugin's name for it. */
export const scheduleLabel = (s: Schedule) => (s.kind === 'webhook' ? `webhook ${s.id}` : s.name ?? s.id);

/** Runs `s` now; then its run's page, or `back` with why it did not run. */
export function runScheduleNow(ctx: UiContext, deps: UiDeps, ws: Workspace, s: Schedule, back: string): Promise<void> {
  const label = scheduleLabel(s);
  return act(ctx, deps, back, async () => {
    const { occurrenceId } = await deps.scheduler.runNow(s);
    const occurrence = await deps.store.occurrences.get(occurrenceId);
    await deps.recorder.flush();
    if (!occurrence?.lastRunId) return { notice: `${label} did not run: ${occurrence?.error ?? occurrence?.status ?? 'unknown outcome'}.`, failed: true };
    const run = await deps.store.runs.get(ws.id, occurrence.lastRunId);
    return { notice: `Ran ${label} now: ${run.status}.`, to: path`/admin/workspaces/${ws.id}/runs/${run.id}`, failed: run.status !== 'succeeded' };
  });
}

const NOT_KEPT: Partial<Record<RunKind, string>> = {
  route: 'An HTTP route call cannot be re-run: the host does not keep the request it answered.',
  event: 'An event cannot be re-run: the host does not keep its payload.',
  smi: 'A server method call cannot be re-run: the host does not keep its arguments.',
  service: 'A service call cannot be re-run: the host does not keep its arguments.',
  send: 'A queue send cannot be re-run: use Send now on its queue, which sends what is unsent now.',
  background: 'A background job runs once: it cannot be re-run.',
};

/** The schedule a run re-runs, or why it cannot be re-run (a sentence). */
export function rerunOf(run: RunSummary, schedule: Schedule | undefined): { schedule: Schedule } | { reason: string } {
  if (run.scheduleId === null) return { reason: NOT_KEPT[run.kind] ?? 'This run has no schedule, so it cannot be re-run.' };
  if (!schedule || schedule.workspaceId !== run.workspaceId) return { reason: 'Its schedule was deleted, so it cannot be re-run.' };
  if (schedule.kind === 'background') return { reason: NOT_KEPT.background! };
  return { schedule };
}
