// Liveness with a store check, and Prometheus metrics.
import type { Middleware } from 'koa';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';

export function healthRoutes(store: Store, metrics: Metrics): Middleware {
  return async (ctx, next) => {
    if (ctx.path === '/healthz' && ctx.method === 'GET') {
      const started = performance.now();
      try {
        await store.ping();
        ctx.body = { status: 'ok', store: { dialect: store.dialect, ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 } };
      } catch {
        ctx.status = 503;
        ctx.body = { status: 'unavailable', store: { dialect: store.dialect, ok: false }, error: { code: 'STORE_UNAVAILABLE', message: 'the database does not answer' } };
      }
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
