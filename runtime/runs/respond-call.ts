// Calling a Haplo plugin's P.respond handler: find the active Haplo-format installation whose
// `respond` roots hold the path, check the caller's token, and run the handler as a recorded
// run (kind `route`). `execute` calls it for HTTP requests under /workspaces/:ws/do and /api.
import { bearerOf } from '../auth.ts';
import { PlughostError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { RouteResponse } from '../sandbox/types.ts';
import type { RouteCallDeps, RouteCallResult, Headers } from './route-call.ts';
import type { RunMeta } from './record.ts';

export interface RespondCall {
  workspaceId: string;
  /** From the root on: `/do/my-plugin/…` or `/api/my-plugin/…`. */
  path: string;
  method: string;
  headers: Headers;
  /** Query and form parameters, one value each (Haplo's `E.request.parameters`). */
  parameters: Record<string, string>;
  body: string;
  /**
   * The API key that opened this `/api/…` path, checked by the HTTP layer
   * (runtime/http/haplo-responds.ts); without one the caller needs a token of the workspace.
   */
  apiKeyId?: string;
}

/** Runs a P.respond handler. Throws (404, 401, 403) before running anything when it cannot be called. */
export async function callRespond(deps: RouteCallDeps, call: RespondCall, meta: Omit<RunMeta, 'target'>): Promise<RouteCallResult> {
  const plugin = await deps.installations.byRespondRoot(call.workspaceId, call.path);
  if (!plugin) throw new PlughostError('ROUTE_NOT_FOUND', `nothing is served at /workspaces/${call.workspaceId}${call.path}: no active Haplo plugin declares that respond root`);
  // /do and /api are a workspace's own: a token of the workspace (or the operator's), which plugin code never sees;
  // /api also opens to an API key for the path, which the HTTP layer checked.
  if (call.apiKeyId === undefined) {
    const header = call.headers.authorization;
    const principal = await deps.auth.principalOf(bearerOf(Array.isArray(header) ? header[0] : header));
    if (!principal) {
      throw new PlughostError('UNAUTHORIZED', call.path.startsWith('/api/')
        ? 'this path needs an API key for it (HTTP Basic haplo:<key>) or a token of its workspace (Authorization: Bearer <token>)'
        : 'this path needs a token of its workspace: send Authorization: Bearer <workspace token>');
    }
    if (principal.kind !== 'operator' && principal.workspaceId !== call.workspaceId) throw new PlughostError('FORBIDDEN', 'this workspace token belongs to another workspace');
  }
  const { authorization: _token, ...headers } = call.headers;
  const runId = meta.runId ?? newId('run');
  let early!: (r: RouteResponse | undefined) => void;
  const response = new Promise<RouteResponse | undefined>((resolve) => { early = resolve; });
  const done = deps.executor.run(plugin, {
    kind: 'route', payload: { respond: { method: call.method, path: call.path, parameters: call.parameters, headers, body: call.body } }, onResponse: early,
  }, { ...meta, runId, target: `${call.method} ${call.path}`.slice(0, 300) });
  void done.then((r) => early(r.outcome.response), () => early(undefined));
  return { runId, response, done };
}
