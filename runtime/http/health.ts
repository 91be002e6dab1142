// Liveness that tells the truth, and Prometheus metrics. /healthz answers 503 when the host
// cannot do its work, with the reason as `error.code`:
//   STORE_UNAVAILABLE  the store does not answer a ping
//   STORE_FULL         the run recorder's last write failed because the store or its disk is full
//   SCHEDULER_STALLED  the scheduler has run but completed no pass within 5 poll intervals
import type { Middleware } from 'koa';
import type { ErrorCode } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { isStoreFull } from '../store/dialect.ts';
import type { Store } from '../store/store.ts';

/** The scheduler counts as stalled once this many poll intervals pass without a completed pass. */
export const SCHEDULER_STALL_POLLS = 5;

export interface HealthSources {
  store: Store;
  metrics: Metrics;
  recorder?: { stats(): { backlog: number; lost: number; lastError: string | null } } | undefined;
  /** Any scheduler; one without `health()` is left out of the answer. */
  scheduler?: { health?: () => { lastPassAt: number | null; pollMs: number; passes: number; startedAt?: number | null } } | object | undefined;
  /** The clock the scheduler stamps `lastPassAt` with. */
  now: () => number;
}

export function healthRoutes(sources: HealthSources): Middleware {
  const { store, metrics } = sources;
  return async (ctx, next) => {
    if (ctx.path === '/healthz' && ctx.method === 'GET') {
      const started = performance.now();
      let storeOk = true;
      try {
        await store.ping();
      } catch {
        storeOk = false;
      }
      const body: Record<string, unknown> = {
        status: 'ok',
        store: storeOk
          ? { dialect: store.dialect, ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 }
          : { dialect: store.dialect, ok: false },
      };
      const problems: Array<{ code: ErrorCode; message: string }> = [];
      if (!storeOk) problems.push({ code: 'STORE_UNAVAILABLE', message: 'the database does not answer' });

      const scheduler = sources.scheduler as { health?: unknown } | undefined;
      if (scheduler && typeof scheduler.health === 'function') {
        const h = (scheduler.health as () => { lastPassAt: number | null; pollMs: number; passes: number; startedAt?: number | null })();
        const since = h.lastPassAt ?? h.startedAt ?? null; // null: not started yet, so not stalled
        const ok = since === null || sources.now() - since <= SCHEDULER_STALL_POLLS * h.pollMs;
        body.scheduler = { lastPassAt: h.lastPassAt === null ? null : new Date(h.lastPassAt).toISOString(), ok };
        if (!ok) problems.push({ code: 'SCHEDULER_STALLED', message: `the scheduler has completed no pass for over ${SCHEDULER_STALL_POLLS} poll intervals` });
      }

      if (sources.recorder) {
        const s = sources.recorder.stats();
        body.recorder = { backlog: s.backlog, lost: s.lost };
        if (s.lastError !== null && isStoreFull({ message: s.lastError })) {
          problems.push({ code: 'STORE_FULL', message: 'the database is full: finished runs are buffered until space is freed' });
        }
      }

      if (problems.length > 0) {
        // The store being unreachable explains everything else; then a full store; then the scheduler.
        const order: ErrorCode[] = ['STORE_UNAVAILABLE', 'STORE_FULL', 'SCHEDULER_STALLED'];
        problems.sort((a, b) => order.indexOf(a.code) - order.indexOf(b.code));
        ctx.status = 503;
        body.status = 'unavailable';
        body.error = problems[0];
      }
      ctx.set('cache-control', 'no-store');
      ctx.body = body;
      return;
    }
    if (ctx.path === '/metrics' && ctx.method === 'GET') {
      ctx.set('content-type', metrics.registry.contentType);
      ctx.body = await metrics.registry.metrics();
      return;
    }
    await next();
  };
}
