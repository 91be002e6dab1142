// Haplo's P.respond over HTTP: ANY /workspaces/:ws/do/… and /workspaces/:ws/api/… run the
// handler of the Haplo-format installation whose `respond` roots hold the path. Query and form
// parameters become `E.request.parameters`. `/do` takes a workspace (or operator) token, which
// the run checks; `/api`, as in Haplo, also takes an API key of the workspace whose path holds
// the request's (HTTP Basic `haplo:<key>`, or a bearer key), checked here.
import type { Middleware } from 'koa';
import { PlughostError, isPlughostError } from '../errors.ts';
import type { HostOptions } from '../options.ts';
import type { RespondCall } from '../runs/respond-call.ts';
import type { Runs } from '../runs/execute.ts';
import { hashToken, sameHash } from '../secrets.ts';
import type { ApiKey } from '../store/api-keys.ts';
import type { Store } from '../store/store.ts';
import { anyBody, queryObject } from './body.ts';
import { sendPluginResponse } from './plugin-routes.ts';
import { keyOf } from './poll-api.ts';

const PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})(\/(do|api)\/.+)$/;
const CHALLENGE = 'Basic realm="haplo"';

export interface HaploRespondDeps { runs: Runs; options: HostOptions; store: Store }

/** Whether a key for `prefix` opens `path`: `/api/x` opens `/api/x` and `/api/x/…`, not `/api/xy`. */
export function prefixHolds(prefix: string, path: string): boolean {
  return path === prefix || path.startsWith(prefix + '/');
}

/**
 * The API key that opens `path` in `workspaceId`, or undefined when the request carries none
 * (no credentials, or a bearer that is no API key: it may be a token, which the run checks).
 * Throws 401 for a Basic credential that is no valid key, 403 for a key of another workspace or path.
 */
async function apiKeyFor(store: Store, header: string, workspaceId: string, path: string): Promise<ApiKey | undefined> {
  const basic = /^Basic\s/i.test(header);
  const key = keyOf(header);
  const hash = key && key.length <= 200 ? hashToken(key) : undefined;
  const found = hash ? await store.apiKeys.byHash(hash) : undefined;
  if (!found || !sameHash(found.keyHash, hash!)) {
    if (basic) throw new PlughostError('UNAUTHORIZED', 'this API key is not valid on this host: send a key of the workspace as HTTP Basic haplo:<key>');
    return undefined;
  }
  if (found.revokedAt !== null) throw new PlughostError('UNAUTHORIZED', 'this API key has been revoked; an admin of the workspace can make a new one');
  if (found.workspaceId !== workspaceId) throw new PlughostError('FORBIDDEN', 'this API key belongs to another workspace');
  if (!prefixHolds(found.pathPrefix, path)) throw new PlughostError('FORBIDDEN', `this API key opens ${found.pathPrefix} and the paths under it only`);
  return found;
}

export function haploResponds(deps: HaploRespondDeps): Middleware {
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m) return next();
    const [, workspaceId, path, area] = m as unknown as [string, string, string, 'do' | 'api'];
    try {
      const apiKey = area === 'api' ? await apiKeyFor(deps.store, ctx.get('authorization'), workspaceId, path) : undefined;
      const body = await anyBody(ctx, deps.options.http.maxBodyBytes);
      const parameters: Record<string, string> = {};
      const add = (source: Record<string, unknown>) => {
        for (const [k, v] of Object.entries(source)) parameters[k] = String(Array.isArray(v) ? v[0] : v);
      };
      add(queryObject(new URLSearchParams(ctx.querystring)));
      // A form post's fields are parameters too, as Haplo gives them.
      if (ctx.is('application/x-www-form-urlencoded') && body.parsed && typeof body.parsed === 'object') add(body.parsed as Record<string, unknown>);
      // The plugin never sees a key (dropped here) nor a token (which the run checks, then drops).
      const { authorization: _key, ...headers } = ctx.headers;
      const call: RespondCall = apiKey
        ? { workspaceId, path, method: ctx.method, headers, parameters, body: body.raw, apiKeyId: apiKey.id }
        : { workspaceId, path, method: ctx.method, headers: { ...ctx.headers }, parameters, body: body.raw };
      await sendPluginResponse(ctx, await deps.runs.execute({ kind: 'respond', call }, { trigger: 'http' }));
    } catch (err) {
      // Haplo's /api callers are other systems: tell them, as Haplo does, that a key is asked for.
      if (area === 'api' && isPlughostError(err, 'UNAUTHORIZED')) ctx.set('www-authenticate', CHALLENGE);
      throw err;
    }
  };
}
