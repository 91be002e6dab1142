// The Koa application: errors, health and metrics, the admin API, then Haplo's P.respond paths, server methods, external events and plugin routes.
import Koa from 'koa';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Secrets } from '../secrets.ts';
import type { Store } from '../store/store.ts';
import { adminApi } from './admin-api.ts';
import type { ApiDeps } from './api-context.ts';
import { adminUi } from './admin-ui/index.ts';
import { errorMiddleware } from './error-middleware.ts';
import { externalEvents } from './external-events.ts';
import { haploResponds } from './haplo-responds.ts';
import { healthRoutes } from './health.ts';
import { pluginRoutes, type PluginRouteDeps } from './plugin-routes.ts';
import { pollApi } from './poll-api.ts';
import { serverMethods } from './server-methods.ts';

export interface AppDeps extends ApiDeps, PluginRouteDeps {
  log: Logger;
  metrics: Metrics;
  store: Store;
  secrets: Secrets;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.silent = true; // errors are answered and logged by errorMiddleware
  app.use(async (ctx, next) => {
    await next();
    const group = ctx.path.startsWith('/api/') ? 'api' : ctx.path.startsWith('/workspaces/') ? 'plugin' : 'other';
    deps.metrics.httpRequests.inc({ group, status: `${Math.floor(ctx.status / 100)}xx` });
  });
  app.use(errorMiddleware(deps.log));
  app.use(healthRoutes({ store: deps.store, metrics: deps.metrics, recorder: deps.recorder, scheduler: deps.scheduler, now: () => deps.clock.now() }));
  app.use(pollApi({ store: deps.store, messages: deps.messages, installations: deps.installations, maxBodyBytes: deps.options.http.maxBodyBytes }));
  const api = adminApi(deps);
  const apiRoutes = api.routes() as unknown as Koa.Middleware;
  const apiMethods = api.allowedMethods({ throw: true }) as unknown as Koa.Middleware;
  // The router matches a path against every API route: spare plugin traffic that scan.
  app.use((ctx, next) => (ctx.path.startsWith('/api/') ? apiRoutes(ctx, () => apiMethods(ctx, next)) : next()));
  app.use(adminUi(deps));
  app.use(haploResponds(deps));
  app.use(serverMethods(deps));
  app.use(externalEvents(deps));
  app.use(pluginRoutes(deps));
  return app;
}
