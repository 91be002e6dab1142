// Scheduled webhooks (Zengine): workspace admins create them over REST; each fires a POST to
// a plugin route on this host (in-process) or to an absolute URL (under the egress policy).
// Create, change and preview share one plan of the schedule to store, so a preview (the REST
// API's and the admin UI's) shows the fire times a save gives.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { PlughostError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Secrets } from '../secrets.ts';
import type { Schedule } from '../store/schedules.ts';
import type { Store } from '../store/store.ts';
import { isTimeZone } from '../workspaces.ts';
import { checkCron, nextAfter, preview as previewTimes, type Recurrence } from './recurrence.ts';
import { formatInZone, instantToWall, parseWall, wallToInstant } from './zoned-time.ts';

// The workspace of an in-process path is checked against the webhook's (create and change).
const url = z.string().min(1).max(2000).superRefine((u, ctx) => {
  const read = u.startsWith('/') ? readRoutePath(u) : undefined;
  const problem = read ? ('problem' in read ? read.problem : undefined)
    : URL.canParse(u) && /^https?:$/.test(new URL(u).protocol) ? undefined : PATH_SHAPE;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const cron = z.string().max(200).refine((c) => { try { checkCron(c); return true; } catch { return false; } }, 'is not a valid cron expression');

const fields = {
  url,
  frequency: z.enum(['hourly', 'daily', 'weekly', 'monthly']),
  cron,
  start: z.string().max(40).refine((s) => parseWall(s) !== undefined, 'must be a local date-time YYYY-MM-DD HH:mm[:ss] (no zone: it is read in `timezone`)'),
  timezone: z.string().max(64).refine(isTimeZone, 'must be an IANA time zone such as America/New_York'),
  description: z.string().max(500),
  isActive: z.boolean(),
  misfire: z.enum(['coalesce', 'skip', 'all']),
  overlap: z.enum(['skip', 'allow', 'queue']),
  retries: z.number().int().min(0).max(10),
  misfireGraceSeconds: z.number().int().min(0).max(86_400),
};
/** `misfireGraceSeconds` when a scheduled webhook is created without one. */
export const DEFAULT_MISFIRE_GRACE_SECONDS = 60;
export const webhookCreateInput = z.object({
  ...fields, frequency: fields.frequency.optional(), cron: fields.cron.optional(), start: fields.start.optional(),
  timezone: fields.timezone.optional(), description: fields.description.optional(), isActive: fields.isActive.optional(),
  misfire: fields.misfire.optional(), overlap: fields.overlap.optional(), retries: fields.retries.optional(),
  misfireGraceSeconds: fields.misfireGraceSeconds.optional(),
}).strict().refine((v) => v.frequency !== undefined || v.cron !== undefined, { message: 'give `frequency` (hourly, daily, weekly, monthly) or `cron`', path: ['frequency'] });
export const webhookChangeInput = z.object({
  url: fields.url.optional(), frequency: fields.frequency.nullable().optional(), cron: fields.cron.nullable().optional(),
  start: fields.start.nullable().optional(), timezone: fields.timezone.optional(), description: fields.description.optional(),
  isActive: fields.isActive.optional(), misfire: fields.misfire.optional(), overlap: fields.overlap.optional(), retries: fields.retries.optional(),
  // null: follow the host's `schedules.graceMs`.
  misfireGraceSeconds: fields.misfireGraceSeconds.nullable().optional(),
}).strict();

export type WebhookCreateInput = z.infer<typeof webhookCreateInput>;
export type WebhookChangeInput = z.infer<typeof webhookChangeInput>;

/** A preview: the zone the webhook would have, whether it would be active, and its next fire times (epoch ms). */
export interface WebhookPreview { timezone: string; active: boolean; times: number[] }

/** The plugin route an in-process webhook URL calls. */
export interface RouteTarget { workspaceId: string; namespace: string; route: string }
/** An in-process webhook URL, read once: its route, and the path and query as they are called. */
export interface RoutePath extends RouteTarget { pathname: string; search: string }

const ROUTE_PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/([^/]+)(\/.*)?$/;
const PATH_SHAPE = 'must be a plugin route path (/workspaces/{ws}/{namespace}/{route}…) or an absolute http(s) URL';

/**
 * Reads an in-process webhook URL (`/workspaces/{ws}/{namespace}/{route}[/…][?…]`) as written.
 * What the URL parser would rewrite is refused, not resolved, so the route checked is the route
 * called: dot segments (`.`, `..`) and their percent-encoded forms, encoded slashes and
 * backslashes (`%2e`, `%2f`, `%5c` anywhere in the path), backslashes, and spaces or control
 * characters (the parser drops tabs and newlines, which would join `.\t.` into `..`).
 */
export function readRoutePath(raw: string): RoutePath | { problem: string } {
  if (/[\s\\\x00-\x1f\x7f]/.test(raw)) return { problem: 'must not hold spaces, control characters or backslashes' };
  const cut = raw.search(/[?#]/);
  const path = cut < 0 ? raw : raw.slice(0, cut);
  if (/%(2e|2f|5c)/i.test(path)) return { problem: 'must not hold percent-encoded dots, slashes or backslashes (%2e, %2f, %5c) in its path' };
  const segments = path.split('/');
  if (segments.some((seg) => seg === '.' || seg === '..')) return { problem: 'must not hold dot segments (`.` or `..`) in its path' };
  const url = new URL(raw, 'http://in-process.invalid');
  const m = ROUTE_PATH.exec(url.pathname);
  // Whatever else the parser might resolve: the route called must have the segments written.
  if (!m || url.host !== 'in-process.invalid' || url.pathname.split('/').length !== segments.length) return { problem: PATH_SHAPE };
  return { workspaceId: m[1]!, namespace: m[2]!, route: m[3]!, pathname: url.pathname, search: url.search };
}

/** The route a webhook of `workspaceId` with this in-process `url` calls, or why it may not call it. */
export function webhookRoute(workspaceId: string, raw: string): RoutePath | { problem: string } {
  const r = readRoutePath(raw);
  if ('problem' in r) return r;
  if (r.workspaceId !== workspaceId) return { problem: `must be a route of this workspace (/workspaces/${workspaceId}/…), not of ${r.workspaceId}` };
  return r;
}

export interface WebhookSpec {
  url: string; frequency: string | null; cron: string | null; start: string | null; timezone: string; description: string; createdWall: number;
}

export function webhookRecurrence(spec: WebhookSpec): Recurrence {
  const anchorWall = spec.start ? parseWall(spec.start)! : spec.createdWall;
  return { type: 'calendar', timezone: spec.timezone, anchorWall, frequency: (spec.frequency ?? undefined) as never, cron: spec.cron ?? undefined };
}

/** The first fire time: `start` (or the next slot at or after it), or now when there is no start. */
function firstRun(spec: WebhookSpec, rec: Recurrence, now: number): number | null {
  if (!spec.start && !spec.cron) return now;
  const from = spec.start ? Math.max(now, wallToInstant(parseWall(spec.start)!, spec.timezone)) : now;
  return nextAfter(rec, from - 1);
}

export function createWebhooks(deps: { store: Store; secrets: Secrets; now: () => number }) {
  const { store, secrets, now } = deps;

  const view = (s: Schedule) => {
    const spec = s.spec as unknown as WebhookSpec;
    return {
      id: s.id, workspaceId: s.workspaceId, url: spec.url, frequency: spec.frequency, cron: spec.cron, start: spec.start,
      timezone: spec.timezone, description: spec.description, isActive: s.active, misfire: s.misfire, overlap: s.overlap, retries: s.maxRetries,
      // null: the host's `schedules.graceMs` (webhooks made before the field existed, or reset).
      misfireGraceSeconds: s.misfireGraceMs === null || s.misfireGraceMs === undefined ? null : s.misfireGraceMs / 1000,
      secretKey: s.secret ? (secrets.open(s.secret) as string) : null,
      nextRunAt: s.active && s.nextRunAt !== null ? new Date(s.nextRunAt).toISOString() : null,
      nextRunAtLocal: s.active && s.nextRunAt !== null ? formatInZone(s.nextRunAt, spec.timezone) : null,
      createdAt: new Date(s.createdAt).toISOString(), updatedAt: new Date(s.updatedAt).toISOString(),
    };
  };

  /** The url to store: an in-process path of this workspace as the parser reads it, or the absolute URL given. */
  const checkedUrl = (workspaceId: string, u: string): string => {
    if (!u.startsWith('/')) return u;
    const r = webhookRoute(workspaceId, u);
    if ('problem' in r) throw new PlughostError('INVALID_BODY', `the body has 1 problem(s): url: ${r.problem}`, { details: [{ path: 'url', message: r.problem }] });
    return r.pathname + r.search;
  };

  const get = async (workspaceId: string, id: string): Promise<Schedule> => {
    const s = await store.schedules.get(id);
    if (!s || s.workspaceId !== workspaceId || s.kind !== 'webhook') throw new PlughostError('SCHEDULE_NOT_FOUND', `no scheduled webhook \`${id}\` in workspace \`${workspaceId}\``);
    return s;
  };

  /** The webhook create would store at `at`, without its secret: the URL checked, the first fire time. */
  const planCreate = async (workspaceId: string, input: WebhookCreateInput, at: number): Promise<Schedule> => {
    const ws = await store.workspaces.require(workspaceId);
    const checked = checkedUrl(workspaceId, input.url);
    const timezone = input.timezone ?? ws.timezone ?? 'UTC';
    const spec: WebhookSpec = {
      url: checked, frequency: input.frequency ?? null, cron: input.cron ?? null, start: input.start ?? null, timezone,
      description: input.description ?? '', createdWall: instantToWall(at, timezone),
    };
    const recurrence = webhookRecurrence(spec);
    const id = newId('whk', at);
    return {
      id, workspaceId, installationId: null, kind: 'webhook', name: null, uniqueKey: `webhook:${id}`, spec: spec as never, recurrence,
      active: input.isActive ?? true, nextRunAt: firstRun(spec, recurrence, at), misfire: input.misfire ?? 'coalesce',
      overlap: input.overlap ?? 'skip', maxRetries: input.retries ?? 3,
      misfireGraceMs: (input.misfireGraceSeconds ?? DEFAULT_MISFIRE_GRACE_SECONDS) * 1000, secret: null,
      createdAt: at, updatedAt: at,
    };
  };

  /** What change would store at `at` (the secret as it was), and whether the URL changed, which earns a new secret. */
  const planChange = (workspaceId: string, s: Schedule, input: WebhookChangeInput, at: number): { updated: Schedule; retargeted: boolean } => {
    const old = s.spec as unknown as WebhookSpec;
    const checked = input.url === undefined ? undefined : checkedUrl(workspaceId, input.url);
    const spec: WebhookSpec = {
      ...old,
      ...(checked !== undefined ? { url: checked } : {}),
      ...(input.frequency !== undefined ? { frequency: input.frequency } : {}),
      ...(input.cron !== undefined ? { cron: input.cron } : {}),
      ...(input.start !== undefined ? { start: input.start } : {}),
      ...(input.timezone !== undefined ? { timezone: input.timezone } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
    };
    if (!spec.frequency && !spec.cron) throw new PlughostError('INVALID_BODY', 'a scheduled webhook needs `frequency` or `cron`');
    if (spec.timezone !== old.timezone && !spec.start) spec.createdWall = instantToWall(wallToInstant(old.createdWall, old.timezone), spec.timezone);
    const timing = ['frequency', 'cron', 'start', 'timezone'].some((k) => (input as Record<string, unknown>)[k] !== undefined);
    const resumed = input.isActive === true && !s.active;
    const recurrence = webhookRecurrence(spec);
    const updated: Schedule = {
      ...s, spec: spec as never, recurrence, active: input.isActive ?? s.active,
      misfire: input.misfire ?? s.misfire, overlap: input.overlap ?? s.overlap, maxRetries: input.retries ?? s.maxRetries, updatedAt: at,
      misfireGraceMs: input.misfireGraceSeconds === undefined ? (s.misfireGraceMs ?? null) : input.misfireGraceSeconds === null ? null : input.misfireGraceSeconds * 1000,
      // New timing, or a resume after a pause: the next slot from now, with no catch-up for the pause.
      nextRunAt: timing ? firstRunAfterChange(spec, recurrence, at) : resumed ? nextAfter(recurrence, at) : s.nextRunAt,
    };
    return { updated, retargeted: checked !== undefined && checked !== old.url };
  };

  /**
   * The next `count` fire times a save would give, saving nothing: of a new webhook, or with `id`
   * of a change to that one (an empty change: its stored next runs). The same code as create and
   * change, so a save fires at the times previewed (from the same `now`). Empty when it would never fire.
   */
  async function preview(workspaceId: string, input: WebhookCreateInput, count: number): Promise<WebhookPreview>;
  async function preview(workspaceId: string, input: WebhookChangeInput, count: number, id: string): Promise<WebhookPreview>;
  async function preview(workspaceId: string, input: WebhookCreateInput | WebhookChangeInput, count: number, id?: string): Promise<WebhookPreview> {
    const at = now();
    const s = id === undefined ? await planCreate(workspaceId, input as WebhookCreateInput, at) : planChange(workspaceId, await get(workspaceId, id), input, at).updated;
    const first = s.nextRunAt;
    const times = first === null || count < 1 ? [] : [first, ...previewTimes(s.recurrence, first, count - 1)];
    return { timezone: (s.spec as unknown as WebhookSpec).timezone, active: s.active, times };
  }

  return {
    view,
    get,
    async create(workspaceId: string, input: WebhookCreateInput) {
      const s: Schedule = { ...(await planCreate(workspaceId, input, now())), secret: secrets.seal(randomBytes(24).toString('hex')) };
      await store.schedules.insert(s);
      return view(s);
    },
    async change(workspaceId: string, id: string, input: WebhookChangeInput) {
      const { updated, retargeted } = planChange(workspaceId, await get(workspaceId, id), input, now());
      // A webhook pointed elsewhere gets a new secret: whoever saw the old one (the plugin it
      // called receives it as X-Zengine-Webhook-Key) cannot sign for the new target.
      const saved = retargeted ? { ...updated, secret: secrets.seal(randomBytes(24).toString('hex')) } : updated;
      await store.schedules.update(saved);
      return view(saved);
    },
    preview,
    async list(workspaceId: string) {
      await store.workspaces.require(workspaceId);
      return (await store.schedules.list(workspaceId, ['webhook'])).map(view);
    },
    async remove(workspaceId: string, id: string) {
      await get(workspaceId, id);
      await store.schedules.delete(id);
    },
    /** The secret key of a webhook (to sign its calls). */
    secretOf(s: Schedule): string {
      return secrets.open(s.secret!) as string;
    },
  };
}

function firstRunAfterChange(spec: WebhookSpec, rec: Recurrence, now: number): number | null {
  if (!spec.start && !spec.cron) return nextAfter(rec, now);
  return firstRun(spec, rec, now);
}

export type Webhooks = ReturnType<typeof createWebhooks>;
