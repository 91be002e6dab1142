// Firing an installation's handlers by hand (`plughost trigger`, the SDK, an operator):
// `POST …/installations/:id/events/onScheduledEvent` calls its Freshworks handler once with
// a payload built like a scheduled firing's (`…/events/:event` any other event it handles), and `POST …/installations/:id/hooks/:hook` calls
// one Haplo schedule hook with the arguments of a chosen instant in the workspace's zone, and
// `POST …/workspaces/:ws/events {event, data}` fires a Freshworks product event (onTicketCreate,
// …) into every active installation whose manifest handles it, answering 202 with their runs.
// Each is one run (trigger `manual`), answered with its log; the run's own failure is a 200
// carrying a failed run, as with "run now".
import { z } from 'zod';
import { PlughostError } from '../../errors.ts';
import { newId } from '../../ids.ts';
import { SCHEDULE_HOOKS } from '../../schedule/hooks.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, validate } from '../body.ts';
import { noEventHandler } from '../../runs/execute.ts';
import type { SandboxPlugin } from '../../sandbox/types.ts';

const AT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;

/**
 * An ISO date-time with an explicit zone (`2026-06-10T07:00:00Z`, `…+02:00`) as epoch ms, so
 * it never depends on the host's own zone; undefined when malformed or not a real date
 * (Date.parse would roll 30 February over into March).
 */
export function parseInstant(text: string): number | undefined {
  const m = AT_RE.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, oh, om] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as number[];
  const day = new Date(Date.UTC(y!, mo! - 1, d!));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo! - 1 || day.getUTCDate() !== d) return undefined;
  if (h! > 23 || mi! > 59 || s! > 59 || oh! > 23 || om! > 59) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

const at = z.string().max(40)
  .refine((s) => parseInstant(s) !== undefined, 'must be an ISO date-time with a zone, such as 2026-06-10T07:00:00Z')
  .optional();

const eventInput = z.object({
  data: z.record(z.string(), z.unknown()).optional(),
  at,
  /** The schedule name the handler sees in `payload.schedule.name` (default `manual`). */
  name: z.string().min(1).max(128).optional(),
}).strict();
const hookInput = z.object({ at }).strict();
const appEventInput = z.object({ data: z.record(z.string(), z.unknown()).optional() }).strict();
// A product event from the host product (onTicketCreate, …): FDK's event names, any JSON data.
const productEventInput = z.object({
  event: z.string().regex(/^on[A-Z][A-Za-z]{1,63}$/, 'must be an FDK event name such as onTicketCreate'),
  data: z.record(z.string(), z.unknown()).default({}),
}).strict();
const NOT_PRODUCT_EVENTS = new Set(['onScheduledEvent', 'onExternalEvent', 'onAppInstall', 'onAppUninstall', 'onSettingsUpdate']);

export function triggerRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, store, installations, runs, clock, options } = deps;
  const base = '/workspaces/:ws/installations/:id';
  const guard = workspaceAccess(auth);

  /** The installation as the sandbox runs it; only an active one can be triggered. */
  const activePlugin = async (ws: string, id: string) => {
    const workspace = await store.workspaces.require(ws);
    const inst = await store.installations.require(ws, id);
    if (!inst.active) {
      throw new PlughostError('INSTALLATION_NOT_FOUND', `installation \`${id}\` in workspace \`${ws}\` is inactive; activate it (PATCH {"active": true}) before triggering it`);
    }
    return { workspace, inst, plugin: await installations.toSandboxPlugin(inst) };
  };

  // Any other event the app's manifest handles (FDK's `fdk run` simulations): its payload's data.
  router.post(`${base}/events/:event`, guard, async (ctx, next) => {
    if (ctx.params.event === 'onScheduledEvent') return next();
    const input = validate(appEventInput, await jsonBody(ctx, options.http.maxBodyBytes));
    const { plugin } = await activePlugin(ctx.params.ws!, ctx.params.id!);
    const event = ctx.params.event!;
    if (!Object.hasOwn(plugin.manifest.events, event)) {
      throw new PlughostError('PLUGIN_NO_HANDLER', `plugin \`${plugin.manifest.name}\` declares no handler for ${event.slice(0, 64)}`);
    }
    const execution = await runs.execute({ kind: 'app-event', workspaceId: plugin.workspaceId, installationId: plugin.installationId, event, payload: { data: input.data ?? {} }, plugin }, { trigger: 'manual' });
    ctx.body = { run: (await execution.done).run };
  });

  router.post(`${base}/events/onScheduledEvent`, guard, async (ctx) => {
    const input = validate(eventInput, await jsonBody(ctx, options.http.maxBodyBytes));
    const data = input.data ?? {};
    // The same bound as `$schedule.create`: a payload a real schedule could never carry is refused.
    const size = Buffer.byteLength(JSON.stringify(data));
    if (size > options.schedules.dataMaxBytes) {
      const message = `data is ${size} bytes; it must not exceed ${options.schedules.dataMaxBytes} bytes (4 KB), as for $schedule`;
      throw new PlughostError('INVALID_BODY', `the body has 1 problem(s): data: ${message}`, { details: [{ path: 'data', message }] });
    }
    const { plugin } = await activePlugin(ctx.params.ws!, ctx.params.id!);
    if (!plugin.manifest.events.onScheduledEvent?.handler) throw noEventHandler(plugin);
    const runId = newId('run');
    const execution = await runs.execute({
      kind: 'event', workspaceId: plugin.workspaceId, installationId: plugin.installationId, name: input.name ?? 'manual', data,
      timestamp: input.at !== undefined ? parseInstant(input.at)! : clock.now(), idempotencyKey: `${plugin.installationId}@manual-${runId}`,
    }, { runId, trigger: 'manual' });
    ctx.body = { run: (await execution.done).run };
  });

  // A product event into every active installation that handles it, one run each (trigger http).
  router.post('/workspaces/:ws/events', guard, async (ctx) => {
    const input = validate(productEventInput, await jsonBody(ctx, options.http.maxBodyBytes));
    if (NOT_PRODUCT_EVENTS.has(input.event)) {
      const message = 'is fired by the host itself (schedules, target URLs, installs); send product events such as onTicketCreate';
      throw new PlughostError('INVALID_BODY', `the body has 1 problem(s): event: ${message}`, { details: [{ path: 'event', message }] });
    }
    await store.workspaces.require(ctx.params.ws!);
    const subscribed: SandboxPlugin[] = [];
    for (const inst of await store.installations.active(ctx.params.ws!)) {
      const plugin = await installations.toSandboxPlugin(inst);
      if (Object.hasOwn(plugin.manifest.events, input.event)) subscribed.push(plugin);
    }
    const started = await Promise.all(subscribed.map((plugin) => runs.execute({
      kind: 'app-event', workspaceId: plugin.workspaceId, installationId: plugin.installationId, event: input.event, payload: { data: input.data }, plugin,
    }, { trigger: 'http' })));
    ctx.status = 202;
    ctx.body = { event: input.event, runs: started.map((e, i) => ({ installationId: subscribed[i]!.installationId, runId: e.runId })) };
  });

  router.post(`${base}/hooks/:hook`, guard, async (ctx) => {
    const hook = ctx.params.hook!;
    if (!Object.hasOwn(SCHEDULE_HOOKS, hook)) {
      const message = `must be one of ${Object.keys(SCHEDULE_HOOKS).join(', ')}`;
      throw new PlughostError('INVALID_BODY', `\`${hook.slice(0, 100)}\` is not a Haplo schedule hook: it ${message}`, { details: [{ path: 'hook', message }] });
    }
    const input = validate(hookInput, await jsonBody(ctx, options.http.maxBodyBytes));
    const { workspace, inst, plugin } = await activePlugin(ctx.params.ws!, ctx.params.id!);
    // The hooks the code registered with P.hook, as learnt when it last loaded.
    const registered = (await store.schedules.ofInstallation(inst.id, 'hook')).map((s) => s.name);
    if (!registered.includes(hook)) {
      if (inst.loadError) throw new PlughostError('PLUGIN_LOAD_ERROR', `installation \`${inst.id}\` is broken: its code failed to load (${inst.loadError.message})`);
      throw new PlughostError('PLUGIN_NO_HANDLER', `plugin \`${plugin.manifest.name}\` registers no ${hook}; call P.hook('${hook}', function (response, year, month, dayOfMonth, hour, dayOfWeek) {…}) in ${plugin.manifest.main ?? 'its main module (plugin.json `main`)'}`);
    }
    const runId = newId('run');
    const at = input.at !== undefined ? parseInstant(input.at)! : clock.now();
    const execution = await runs.execute({
      kind: 'hook', workspaceId: workspace.id, installationId: inst.id, hook, instant: at, timezone: workspace.timezone, idempotencyKey: `${inst.id}@manual-${runId}`,
    }, { runId, trigger: 'manual' });
    ctx.body = { run: (await execution.done).run };
  });
}
