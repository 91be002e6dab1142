// Firing one occurrence, whatever its kind: a scheduled webhook (in-process plugin route or an
// HTTP POST out), a plugin's `onScheduledEvent`, or a Haplo hook. Every attempt is a run in
// the history, carrying the occurrence's idempotency key.
import type { EgressClient } from '../egress/index.ts';
import { bodyExcerpt, type Executor, type RunMeta } from '../executor.ts';
import { isPlughostError } from '../errors.ts';
import { queryObject } from '../http/body.ts';
import { runHook, runScheduledEvent } from '../runs/handlers.ts';
import type { Installations } from '../installations.ts';
import { callRoute, type RouteCallDeps } from '../route-call.ts';
import type { InvocationOutcome } from '../sandbox/types.ts';
import type { Occurrence } from '../store/occurrences.ts';
import type { Schedule } from '../store/schedules.ts';
import type { Store } from '../store/store.ts';
import { nextAfter } from './recurrence.ts';
import type { Fire, FireResult } from './scheduler.ts';
import { signatureHeader } from './signature.ts';
import type { WebhookSpec, Webhooks } from './webhooks.ts';
import { formatInZone } from './zoned-time.ts';

export interface FireDeps {
  store: Store;
  installations: Installations;
  executor: Executor;
  egress: EgressClient;
  webhooks: Webhooks;
  routes: RouteCallDeps;
  now: () => number;
}

const ROUTE_PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/([^/]+)(\/.*)?$/;

function fromOutcome(runId: string, outcome: InvocationOutcome, okStatus?: number): FireResult {
  const ok = outcome.response ? (okStatus ?? outcome.response.status) < 300 && (okStatus ?? outcome.response.status) >= 200 : outcome.status === 'succeeded';
  const noRetry = outcome.error?.noRetry === true || outcome.response?.headers['x-plughost-no-retry'] === 'true';
  const error = ok ? undefined : outcome.error ? `${outcome.error.code}: ${outcome.error.message.split('\n')[0]}` : `the route answered ${outcome.response?.status}`;
  return { ok, runId, error, noRetry };
}

export function createFire(deps: FireDeps): Fire {
  const { store, installations, executor, egress, webhooks, now } = deps;

  const webhook = async (s: Schedule, o: Occurrence, meta: RunMeta): Promise<FireResult> => {
    const spec = s.spec as unknown as WebhookSpec;
    const next = o.trigger === 'manual' ? s.nextRunAt : nextAfter(s.recurrence, o.dueAt);
    const body = JSON.stringify({
      data: { scheduled: formatInZone(o.dueAt, spec.timezone), nextScheduled: next === null ? null : formatInZone(next, spec.timezone) },
      scheduled: { id: s.id },
    });
    const secret = webhooks.secretOf(s);
    const headers: Record<string, string> = {
      'content-type': 'application/json', 'user-agent': 'plughost-scheduler',
      'x-zengine-webhook-key': secret, 'x-plughost-signature': signatureHeader(secret, body, Math.floor(now() / 1000)),
      'x-plughost-idempotency-key': o.idempotencyKey,
    };
    const started = now();
    const url = new URL(spec.url, 'http://in-process.invalid');
    const m = spec.url.startsWith('/') ? ROUTE_PATH.exec(url.pathname) : null;
    if (m) {
      try {
        const call = await callRoute(deps.routes, {
          workspaceId: m[1]!, namespace: m[2]!, route: m[3]!, method: 'POST', headers, query: queryObject(url.searchParams),
          body: JSON.parse(body), rawBody: body, originalUrl: url.pathname + url.search, path: url.pathname,
        }, meta);
        const { run, outcome } = await call.done;
        return fromOutcome(run.id, outcome);
      } catch (err) {
        const message = (err as Error).message;
        const run = executor.record(s.workspaceId, { ...meta, target: `POST ${url.pathname}` }, {
          status: 'failed', startedAt: started, durationMs: now() - started, httpStatus: (err as { status?: number }).status ?? null,
          log: `POST ${url.pathname}${url.search}: ${message}`, error: { code: (err as { code?: string }).code ?? 'INTERNAL', message },
        });
        return { ok: false, runId: run.id, error: message };
      }
    }
    try {
      const target = new URL(spec.url);
      const res = await egress.request({ url: spec.url, method: 'POST', headers, body }, { permittedHosts: [target.host] });
      const ok = res.status >= 200 && res.status < 300;
      const excerpt = ok ? '' : bodyExcerpt(res.body);
      const reason = `the endpoint answered ${res.status}${excerpt ? `: ${excerpt}` : ''}`;
      const run = executor.record(s.workspaceId, { ...meta, target: `POST ${target.origin}${target.pathname}` }, {
        status: ok ? 'succeeded' : 'failed', startedAt: started, durationMs: now() - started, httpStatus: res.status,
        log: `POST ${target.origin}${target.pathname} → ${res.status} ${res.statusText}${excerpt ? `\n${excerpt}` : ''}`,
        error: ok ? null : { code: 'WEBHOOK_FAILED', message: reason },
      });
      return { ok, runId: run.id, error: ok ? undefined : reason, noRetry: res.headers['x-plughost-no-retry'] === 'true' };
    } catch (err) {
      const e = err as { code?: string; message: string };
      const run = executor.record(s.workspaceId, { ...meta, target: `POST ${spec.url}`.slice(0, 300) }, {
        status: 'failed', startedAt: started, durationMs: now() - started, httpStatus: null, log: e.message, error: { code: e.code ?? 'EGRESS_FAILED', message: e.message },
      });
      return { ok: false, runId: run.id, error: e.message };
    }
  };

  const pluginOf = async (s: Schedule) => {
    const inst = s.installationId ? await store.installations.byId(s.installationId) : undefined;
    return inst && inst.active ? installations.toSandboxPlugin(inst) : undefined;
  };

  const event = async (s: Schedule, o: Occurrence, meta: RunMeta): Promise<FireResult> => {
    const plugin = await pluginOf(s);
    if (!plugin) return { ok: false, runId: null, error: 'the installation is gone or inactive', noRetry: true };
    const spec = s.spec as { name: string; data: unknown };
    try {
      const { run, outcome } = await runScheduledEvent(executor, plugin, { timestamp: o.dueAt, data: spec.data, name: spec.name, idempotencyKey: o.idempotencyKey }, meta);
      return fromOutcome(run.id, outcome);
    } catch (err) {
      if (!isPlughostError(err, 'PLUGIN_NO_HANDLER')) throw err;
      // A failure before the sandbox is a run too, so the history says why nothing ran.
      const run = executor.record(s.workspaceId, { ...meta, installationId: plugin.installationId }, {
        status: 'failed', startedAt: now(), durationMs: 0, httpStatus: null, log: err.message, error: { code: err.code, message: err.message },
      });
      return { ok: false, runId: run.id, error: err.message, noRetry: true };
    }
  };

  const hook = async (s: Schedule, o: Occurrence, meta: RunMeta): Promise<FireResult> => {
    const plugin = await pluginOf(s);
    if (!plugin) return { ok: false, runId: null, error: 'the installation is gone or inactive', noRetry: true };
    const { run, outcome } = await runHook(executor, plugin, s.name!, o.dueAt, (s.recurrence as { timezone: string }).timezone, o.idempotencyKey, meta);
    return fromOutcome(run.id, outcome);
  };

  return async (s, o, attempt) => {
    const base = { trigger: attempt.trigger, scheduleId: s.id, idempotencyKey: o.idempotencyKey, attempt: attempt.attempt };
    if (s.kind === 'webhook') return webhook(s, o, { ...base, kind: 'webhook', target: (s.spec as { url: string }).url.slice(0, 300) });
    if (s.kind === 'plugin') return event(s, o, { ...base, kind: 'event', target: `onScheduledEvent ${s.name}` });
    return hook(s, o, { ...base, kind: 'hook', target: s.name ?? 'hook' });
  };
}
