// Haplo's P.respond over HTTP: ANY /workspaces/:ws/do/… and /workspaces/:ws/api/… run the
// handler of the Haplo-format installation whose `respond` roots hold the path, with a
// workspace (or operator) token. Query and form parameters become `E.request.parameters`.
import type { Middleware } from 'koa';
import type { HostOptions } from '../options.ts';
import type { Runs } from '../runs/execute.ts';
import { anyBody, queryObject } from './body.ts';
import { sendPluginResponse } from './plugin-routes.ts';

const PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})(\/(?:do|api)\/.+)$/;

export interface HaploRespondDeps { runs: Runs; options: HostOptions }

export function haploResponds(deps: HaploRespondDeps): Middleware {
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m) return next();
    const body = await anyBody(ctx, deps.options.http.maxBodyBytes);
    const parameters: Record<string, string> = {};
    const add = (source: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(source)) parameters[k] = String(Array.isArray(v) ? v[0] : v);
    };
    add(queryObject(new URLSearchParams(ctx.querystring)));
    // A form post's fields are parameters too, as Haplo gives them.
    if (ctx.is('application/x-www-form-urlencoded') && body.parsed && typeof body.parsed === 'object') add(body.parsed as Record<string, unknown>);
    const call = await deps.runs.execute({
      kind: 'respond', call: { workspaceId: m[1]!, path: m[2]!, method: ctx.method, headers: { ...ctx.headers }, parameters, body: body.raw },
    }, { trigger: 'http' });
    await sendPluginResponse(ctx, call);
  };
}
