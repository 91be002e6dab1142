// What every admin API route module gets: the host's parts, the router type and the workspace
// guard. Its own module, so the route files and the API that mounts them import no cycle.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Auth, Principal } from '../auth.ts';
import type { DataApi } from '../data-api.ts';
import type { Installations } from '../installations.ts';
import type { HostOptions } from '../options.ts';
import type { Registry } from '../registry.ts';
import type { RunRecorder } from '../runs/recorder.ts';
import type { Runs } from '../runs/execute.ts';
import type { Clock } from '../clock.ts';
import type { CloneGuard } from '../haplo/clone-guard.ts';
import type { IntegrationMessages } from '../haplo/integration-messages.ts';
import type { Scheduler } from '../schedule/scheduler.ts';
import type { Webhooks } from '../schedule/webhooks.ts';
import type { Store } from '../store/store.ts';
import type { createWorkspaces } from '../workspaces.ts';

export interface ApiDeps {
  options: HostOptions;
  store: Store;
  auth: Auth;
  workspaces: ReturnType<typeof createWorkspaces>;
  registry: Registry;
  installations: Installations;
  dataApi: DataApi;
  recorder: RunRecorder;
  runs: Runs;
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
