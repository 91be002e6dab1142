// The admin REST API under /api/v1: bearer-token auth, then one route module per resource.
import Router from '@koa/router';
import { bearerOf } from '../auth.ts';
import type { ApiDeps, ApiRouter } from './api-context.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { dataRoutes } from './routes/data.ts';
import { installationRoutes } from './routes/installations.ts';
import { integrationMessageRoutes } from './routes/integration-messages.ts';
import { pluginRoutes } from './routes/plugins.ts';
import { runRoutes } from './routes/runs.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { triggerRoutes } from './routes/triggers.ts';
import { workspaceRoutes } from './routes/workspaces.ts';

export function adminApi(deps: ApiDeps) {
  const router: ApiRouter = new Router({ prefix: '/api/v1' });
  router.use(async (ctx, next) => {
    ctx.state.principal = await deps.auth.require(bearerOf(ctx.get('authorization')));
    ctx.set('cache-control', 'no-store');
    await next();
  });
  workspaceRoutes(router, deps);
  pluginRoutes(router, deps);
  installationRoutes(router, deps);
  runRoutes(router, deps);
  scheduleRoutes(router, deps);
  triggerRoutes(router, deps);
  integrationMessageRoutes(router, deps);
  apiKeyRoutes(router, deps);
  dataRoutes(router, deps);
  return router;
}
