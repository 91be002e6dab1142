// The admin REST API under /api/v1: bearer-token auth, then one route module per resource.
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Auth, Principal } from '../auth.ts';
import { bearerOf } from '../auth.ts';
import type { DataApi } from '../data-api.ts';
import type { Executor } from '../executor.ts';
import type { Installations } from '../installations.ts';
import type { HostOptions } from '../options.ts';
import type { Registry } from '../registry.ts';
import type { RunRecorder } from '../run-recorder.ts';
import type { Clock } from '../clock.ts';
import type { CloneGuard } from '../haplo/clone-guard.ts';
import type { IntegrationMessages } from '../haplo/integration-messages.ts';
import type { Scheduler } from '../schedule/scheduler.ts';
import type { Webhooks } from '../schedule/webhooks.ts';
import type { Store } from '../store/store.ts';
import type { createWorkspaces } from '../workspaces.ts';
import { dataRoutes } from './routes/data.ts';
import { installationRoutes } from './routes/installations.ts';
import { integrationMessageRoutes } from './routes/integration-messages.ts';
import { pluginRoutes } from './routes/plugins.ts';
import { runRoutes } from './routes/runs.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { triggerRoutes } from './routes/triggers.ts';
import { workspaceRoutes } from './routes/workspaces.ts';

export interface ApiDeps {
  options: HostOptions;
  store: Store;
  auth: Auth;
  workspaces: ReturnType<typeof createWorkspaces>;
  registry: Registry;
  installations: Installations;
  dataApi: DataApi;
  recorder: RunRecorder;
  executor: Executor;
  webhooks: Webhooks;
  scheduler: Scheduler;
  messages: IntegrationMessages;
  cloneGuard: CloneGuard;
  clock: Clock;
}

export type ApiRouter = Router<{ principal: Principal }>;

/** Route guard: the caller may manage the `:ws` of this path. */
export function workspaceAccess(auth: Auth) {
  return async (ctx: Context, next: Next) => {
    auth.checkWorkspace(ctx.state.principal, ctx.params.ws!);
    await next();
  };
}

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
  dataRoutes(router, deps);
  return router;
}
