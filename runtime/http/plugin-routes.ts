// Plugin routes over HTTP (Zengine's contract): ANY /workspaces/:ws/:namespace/:route[/…]
// runs the service module and sends what it sends. A plugin that throws, overruns or never
// responds gets a clean JSON 500/504 naming the run.
import type { Context, Middleware } from 'koa';
import { PlughostError, type ErrorCode } from '../errors.ts';
import type { HostOptions } from '../options.ts';
import { RESERVED_NAMESPACES } from '../packages/manifest.ts';
import type { Execution, Runs } from '../runs/execute.ts';
import { anyBody, queryObject } from './body.ts';

const PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/([^/]+)(\/.*)?$/;
// Hop-by-hop and framing headers are the host's to set (the body's length is what it sends);
// cookies would reach the admin UI's origin; the run's id is the host's word, not the plugin's.
const DROPPED_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'set-cookie', 'trailer', 'x-plughost-run']);

export interface PluginRouteDeps { runs: Runs; options: HostOptions }

export function pluginRoutes(deps: PluginRouteDeps): Middleware {
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m || RESERVED_NAMESPACES.includes(m[2]!)) return next();
    const body = await anyBody(ctx, deps.options.http.maxBodyBytes);
    const call = await deps.runs.execute({
      kind: 'route',
      call: {
        workspaceId: m[1]!, namespace: m[2]!, route: m[3]!, method: ctx.method, headers: { ...ctx.headers },
        query: queryObject(new URLSearchParams(ctx.querystring)), body: body.parsed, rawBody: body.raw, originalUrl: ctx.originalUrl, path: ctx.path,
      },
    }, { trigger: 'http' });
    await sendPluginResponse(ctx, call);
  };
}

/**
 * Answers with what the plugin sent, as soon as it sends it (the run goes on being recorded),
 * or with its run's error when it sent nothing. Haplo's P.respond requests answer so too.
 */
export async function sendPluginResponse(ctx: Context, call: Execution): Promise<void> {
  ctx.set('x-plughost-run', call.runId);
  const response = await call.response;
  if (response) {
    ctx.status = response.status;
    for (const [k, v] of Object.entries(response.headers)) if (!DROPPED_RESPONSE_HEADERS.has(k)) ctx.set(k, v);
    // Plugin pages get an opaque origin, so their scripts cannot act on the admin UI.
    ctx.set('content-security-policy', 'sandbox allow-scripts allow-forms allow-popups allow-modals');
    ctx.set('x-content-type-options', 'nosniff');
    ctx.body = response.body;
    return;
  }
  const { run } = await call.done;
  const error = run.error ?? { code: 'PLUGIN_ERROR', message: 'the plugin failed' };
  // The first line only: the full stack is in the run's log, for the workspace's admins.
  throw new PlughostError(error.code as ErrorCode, `${error.message.split('\n')[0]} (run ${call.runId})`, error.details === undefined ? {} : { details: error.details });
}
