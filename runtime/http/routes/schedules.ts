// Scheduled webhooks (create, list, read, change, delete, run now, preview) and the
// workspace's plugin schedules and hooks (list, run now).
import { z } from 'zod';
import { PlughostError } from '../../errors.ts';
import { webhookChangeInput, webhookCreateInput } from '../../schedule/webhooks.ts';
import { formatInZone } from '../../schedule/zoned-time.ts';
import type { Schedule } from '../../store/schedules.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, validate } from '../body.ts';

const countParam = z.coerce.number().int().min(1).max(100).default(10);

export function scheduleRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, webhooks, store, scheduler, recorder, options } = deps;
  const base = '/workspaces/:ws/scheduled-webhooks';
  const guard = workspaceAccess(auth);

  const runNow = async (s: Schedule) => {
    const { occurrenceId, idempotencyKey } = await scheduler.runNow(s);
    const occurrence = await store.occurrences.get(occurrenceId);
    await recorder.flush();
    const run = occurrence?.lastRunId ? await store.runs.get(s.workspaceId, occurrence.lastRunId) : null;
    return { occurrenceId, idempotencyKey, status: occurrence?.status, run };
  };

  const timezoneOf = (s: Schedule) => (s.recurrence as { timezone?: string }).timezone ?? 'UTC';

  router.post(base, guard, async (ctx) => {
    const input = validate(webhookCreateInput, await jsonBody(ctx, options.http.maxBodyBytes));
    ctx.status = 201;
    ctx.body = await webhooks.create(ctx.params.ws!, input);
    void scheduler.wake();
  });
  router.get(base, guard, async (ctx) => {
    ctx.body = { data: await webhooks.list(ctx.params.ws!), nextCursor: null };
  });
  router.get(`${base}/:id`, guard, async (ctx) => {
    const s = await webhooks.get(ctx.params.ws!, ctx.params.id!);
    const recent = await store.occurrences.recent(s.id, 20);
    ctx.body = { ...webhooks.view(s), occurrences: recent };
  });
  router.patch(`${base}/:id`, guard, async (ctx) => {
    const input = validate(webhookChangeInput, await jsonBody(ctx, options.http.maxBodyBytes));
    ctx.body = await webhooks.change(ctx.params.ws!, ctx.params.id!, input);
    void scheduler.wake();
  });
  router.delete(`${base}/:id`, guard, async (ctx) => {
    await webhooks.remove(ctx.params.ws!, ctx.params.id!);
    ctx.status = 204;
  });
  router.post(`${base}/:id/run`, guard, async (ctx) => {
    ctx.body = await runNow(await webhooks.get(ctx.params.ws!, ctx.params.id!));
  });
  router.get(`${base}/:id/preview`, guard, async (ctx) => {
    const parsed = countParam.safeParse(ctx.query.count);
    if (!parsed.success) throw new PlughostError('INVALID_QUERY', '`count` must be an integer from 1 to 100');
    // The same preview the admin UI shows: what the scheduler will fire next.
    const p = await webhooks.preview(ctx.params.ws!, {}, parsed.data, ctx.params.id!);
    ctx.body = { timezone: p.timezone, data: p.times.map((t) => ({ at: new Date(t).toISOString(), local: formatInZone(t, p.timezone) })) };
  });

  // Plugin schedules ($schedule) and Haplo hooks, per installation.
  const scheduleView = (s: Schedule) => ({
    id: s.id, kind: s.kind, installationId: s.installationId, name: s.name, active: s.active, spec: s.spec,
    timezone: timezoneOf(s), misfire: s.misfire, overlap: s.overlap, retries: s.maxRetries,
    misfireGraceSeconds: (s.misfireGraceMs ?? options.schedules.graceMs) / 1000,
    nextRunAt: s.nextRunAt === null ? null : new Date(s.nextRunAt).toISOString(),
    nextRunAtLocal: s.nextRunAt === null ? null : formatInZone(s.nextRunAt, timezoneOf(s)),
  });
  const pluginSchedule = async (ws: string, id: string) => {
    const s = await store.schedules.get(id);
    // Background jobs are not schedules a person manages (and their specs are the plugin's).
    if (!s || s.workspaceId !== ws || s.kind === 'webhook' || s.kind === 'background') throw new PlughostError('SCHEDULE_NOT_FOUND', `no plugin schedule or hook \`${id}\` in workspace \`${ws}\``);
    return s;
  };
  router.get('/workspaces/:ws/schedules', guard, async (ctx) => {
    await store.workspaces.require(ctx.params.ws!);
    ctx.body = { data: (await store.schedules.list(ctx.params.ws!, ['plugin', 'hook'])).map(scheduleView), nextCursor: null };
  });
  router.get('/workspaces/:ws/schedules/:id', guard, async (ctx) => {
    const s = await pluginSchedule(ctx.params.ws!, ctx.params.id!);
    ctx.body = { ...scheduleView(s), occurrences: await store.occurrences.recent(s.id, 20) };
  });
  router.post('/workspaces/:ws/schedules/:id/run', guard, async (ctx) => {
    ctx.body = await runNow(await pluginSchedule(ctx.params.ws!, ctx.params.id!));
  });
}
