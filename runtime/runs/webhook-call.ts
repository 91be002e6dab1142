// A scheduled webhook as a run: the signed POST Zengine's scheduler sends, to an in-process
// plugin route (a relative `/workspaces/…` URL, called without leaving the process) or to an
// outside URL through egress. A call refused before any code runs (no such route, access
// denied) or an endpoint that cannot be reached is a failed run too, so the history says why.
// A relative URL is read again at every firing, with the same rules as at create: one stored
// before those rules (dot segments, encoded forms, another workspace's route) fails its run
// and calls nothing.
import type { EgressClient } from '../egress/index.ts';
import { queryObject } from '../http/body.ts';
import { nextAfter } from '../schedule/recurrence.ts';
import { signatureHeader } from '../schedule/signature.ts';
import { webhookRoute, type WebhookSpec, type Webhooks } from '../schedule/webhooks.ts';
import { formatInZone } from '../schedule/zoned-time.ts';
import type { Occurrence } from '../store/occurrences.ts';
import type { Schedule } from '../store/schedules.ts';
import { askedNoRetry, bodyExcerpt, webhookDelivered } from './outcome.ts';
import type { RunLog, RunMeta } from './record.ts';
import { callRoute, type RouteCallDeps } from './route-call.ts';
import type { Settled } from './execute.ts';

export interface WebhookCallDeps { egress: EgressClient; webhooks: Webhooks; routes: RouteCallDeps; runLog: RunLog; now: () => number }

export async function callWebhook(deps: WebhookCallDeps, s: Schedule, o: Occurrence, meta: RunMeta): Promise<Settled> {
  const { egress, webhooks, runLog, now } = deps;
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
  const failed = (target: string, httpStatus: number | null, log: string, code: string, message: string): Settled => ({
    run: runLog.record(s.workspaceId, { ...meta, target }, { status: 'failed', startedAt: started, durationMs: now() - started, httpStatus, log, error: { code, message } }),
    noRetry: false,
  });

  if (spec.url.startsWith('/')) {
    const r = webhookRoute(s.workspaceId, spec.url);
    if ('problem' in r) {
      const message = `the webhook's url ${JSON.stringify(spec.url)} ${r.problem}; nothing was called. Give it a route of this workspace (PATCH {"url": …})`;
      return { ...failed(`POST ${spec.url}`.slice(0, 300), null, message, 'FORBIDDEN', message), noRetry: true };
    }
    const path = r.pathname;
    try {
      const call = await callRoute(deps.routes, {
        workspaceId: r.workspaceId, namespace: r.namespace, route: r.route, method: 'POST', headers, query: queryObject(new URLSearchParams(r.search)),
        body: JSON.parse(body), rawBody: body, originalUrl: path + r.search, path, sentBy: s.id,
      }, meta);
      const { run, outcome } = await call.done;
      return { run, noRetry: askedNoRetry(outcome) };
    } catch (err) {
      const e = err as { code?: string; status?: number; message: string };
      return failed(`POST ${path}`, e.status ?? null, `POST ${path}${r.search}: ${e.message}`, e.code ?? 'INTERNAL', e.message);
    }
  }
  let target: URL;
  try {
    target = new URL(spec.url);
    const res = await egress.request({ url: spec.url, method: 'POST', headers, body }, { permittedHosts: [target.host] });
    const ok = webhookDelivered(res.status);
    const excerpt = ok ? '' : bodyExcerpt(res.body);
    const reason = `the endpoint answered ${res.status}${excerpt ? `: ${excerpt}` : ''}`;
    const run = runLog.record(s.workspaceId, { ...meta, target: `POST ${target.origin}${target.pathname}` }, {
      status: ok ? 'succeeded' : 'failed', startedAt: started, durationMs: now() - started, httpStatus: res.status,
      log: `POST ${target.origin}${target.pathname} → ${res.status} ${res.statusText}${excerpt ? `\n${excerpt}` : ''}`,
      error: ok ? null : { code: 'WEBHOOK_FAILED', message: reason },
    });
    return { run, noRetry: res.headers['x-plughost-no-retry'] === 'true' };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return failed(`POST ${spec.url}`, null, e.message, e.code ?? 'EGRESS_FAILED', e.message);
  }
}
