// Plugin routes (Zengine's contract): ANY /workspaces/:ws/:namespace/:route[/…] calls the
// service module's `run(eventData)` in the installation's isolate and sends what it sends.
// A plugin that throws, overruns or never responds gets a clean JSON 500/504.
import type { Middleware } from 'koa';
import type { Auth } from '../auth.ts';
import { bearerOf } from '../auth.ts';
import { PlughostError } from '../errors.ts';
import type { Executor } from '../executor.ts';
import type { Installations } from '../installations.ts';
import type { HostOptions } from '../options.ts';
import { RESERVED_NAMESPACES } from '../packages/manifest.ts';
import type { PluginService } from '../packages/manifest.ts';
import type { SandboxPlugin } from '../sandbox/types.ts';
import { anyBody, queryObject } from './body.ts';

const PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/([^/]+)(\/.*)?$/;
// Hop-by-hop and framing headers are the host's to set; cookies would reach the admin UI's origin.
const DROPPED_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'set-cookie', 'trailer']);

export interface PluginRouteDeps {
  options: HostOptions;
  auth: Auth;
  installations: Installations;
  executor: Executor;
  /** Verifies a scheduled-webhook signature for `signed` routes (section 5); absent = none valid. */
  verifySignature?: (workspaceId: string, headers: Record<string, string | string[] | undefined>, rawBody: string) => Promise<boolean>;
}

async function checkAccess(deps: PluginRouteDeps, service: PluginService, plugin: SandboxPlugin, headers: Record<string, string | string[] | undefined>, body: unknown) {
  if (service.access === 'public') return;
  const principal = await deps.auth.principalOf(bearerOf(headers.authorization as string | undefined));
  const tokenOk = principal !== undefined && (principal.kind === 'operator' || principal.workspaceId === plugin.workspaceId);
  if (tokenOk) return;
  if (service.access === 'signed' && deps.verifySignature) {
    const raw = typeof body === 'string' ? body : JSON.stringify(body ?? {});
    if (await deps.verifySignature(plugin.workspaceId, headers, raw)) return;
  }
  throw new PlughostError(principal ? 'FORBIDDEN' : 'UNAUTHORIZED', service.access === 'token'
    ? 'this route needs a token of its workspace: send Authorization: Bearer <workspace token>'
    : 'this route needs a valid X-Plughost-Signature or a token of its workspace');
}

export function pluginRoutes(deps: PluginRouteDeps): Middleware {
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m || RESERVED_NAMESPACES.includes(m[2]!)) return next();
    const [, workspaceId, namespace, route] = m as unknown as [string, string, string, string];
    const plugin = await deps.installations.byNamespace(workspaceId, namespace);
    const service = plugin?.manifest.services.find((s) => s.route === route);
    if (!plugin || !service) {
      throw new PlughostError('ROUTE_NOT_FOUND', `nothing is served at /workspaces/${workspaceId}/${namespace}/${route}: no active installation has that namespace and route`);
    }
    const body = await anyBody(ctx, deps.options.http.maxBodyBytes);
    await checkAccess(deps, service, plugin, ctx.headers, body);
    const request = {
      method: ctx.method, headers: { ...ctx.headers }, query: queryObject(new URLSearchParams(ctx.querystring)), body,
      params: { workspaceId, pluginNamespace: namespace, pluginRoute: route }, originalUrl: ctx.originalUrl, path: ctx.path,
    };
    const { run, outcome } = await deps.executor.run(plugin, { kind: 'route', payload: { main: service.main, request } }, {
      kind: 'route', trigger: 'http', target: `${ctx.method} ${ctx.path}`.slice(0, 300),
    });
    ctx.set('x-plughost-run', run.id);
    if (outcome.response) {
      ctx.status = outcome.response.status;
      for (const [k, v] of Object.entries(outcome.response.headers)) if (!DROPPED_RESPONSE_HEADERS.has(k)) ctx.set(k, v);
      // Plugin pages get an opaque origin, so their scripts cannot act on the admin UI.
      ctx.set('content-security-policy', 'sandbox allow-scripts allow-forms allow-popups allow-modals');
      ctx.set('x-content-type-options', 'nosniff');
      ctx.body = outcome.response.body;
      return;
    }
    const error = outcome.error ?? { code: 'PLUGIN_ERROR' as const, message: 'the plugin failed' };
    // The first line only: the full stack is in the run's log, for the workspace's admins.
    throw new PlughostError(error.code, `${error.message.split('\n')[0]} (run ${run.id})`);
  };
}
