// Calling a plugin route: find the active installation serving the namespace and route,
// check its access mode, and run the service module's `run(eventData)` as a recorded run.
// `execute` calls it for HTTP requests and in-process scheduled webhooks alike.
import { randomUUID } from 'node:crypto';
import type { Auth } from '../auth.ts';
import { bearerOf } from '../auth.ts';
import { PlughostError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Installations } from '../installations.ts';
import type { PluginService } from '../packages/manifest.ts';
import type { RouteResponse, SandboxPlugin } from '../sandbox/types.ts';
import type { Executor, Ran } from './executor.ts';
import type { RunMeta } from './record.ts';

export type Headers = Record<string, string | string[] | undefined>;

export interface RouteCall {
  workspaceId: string; namespace: string; route: string;
  method: string; headers: Headers; query: Record<string, string | string[]>;
  body: unknown; rawBody: string; originalUrl: string; path: string;
  /** The scheduled webhook calling in-process (set by the scheduler only; an HTTP request never has it). */
  sentBy?: string;
}

export interface RouteCallDeps {
  auth: Auth;
  installations: Installations;
  executor: Executor;
  /**
   * True when the headers carry an unused signature over `rawBody` by a scheduled webhook
   * whose url is this route (see schedule/route-signatures.ts).
   */
  verifySignature(target: { workspaceId: string; namespace: string; route: string }, headers: Headers, rawBody: string, sentBy?: string): Promise<boolean>;
  /** The host's public base URL: Zengine's `baseurl` header is the workspace's data API under it. */
  baseUrl(): string;
}

/** Checks the route's access mode; returns the headers to hand the plugin. */
async function checkAccess(deps: RouteCallDeps, service: PluginService, plugin: SandboxPlugin, call: RouteCall): Promise<Headers> {
  const header = call.headers.authorization;
  const bearer = bearerOf(Array.isArray(header) ? header[0] : header);
  const principal = bearer ? await deps.auth.principalOf(bearer) : undefined;
  // A host token must never reach plugin code: it could manage the workspace, or the host.
  const { authorization: _hostToken, ...withoutToken } = call.headers;
  const forPlugin = principal ? withoutToken : call.headers;
  if (service.access === 'public') return forPlugin;
  if (principal && (principal.kind === 'operator' || principal.workspaceId === plugin.workspaceId)) return forPlugin;
  if (service.access === 'signed') {
    const target = { workspaceId: plugin.workspaceId, namespace: call.namespace, route: call.route };
    if (await deps.verifySignature(target, call.headers, call.rawBody, call.sentBy)) return forPlugin;
  }
  throw new PlughostError(principal ? 'FORBIDDEN' : 'UNAUTHORIZED', service.access === 'token'
    ? 'this route needs a token of its workspace: send Authorization: Bearer <workspace token>'
    : 'this route needs a token of its workspace, or an unused X-Plughost-Signature by a scheduled webhook whose url is this route');
}

/**
 * The headers Zengine's runner gives a service: `baseurl`, the workspace's data API (a draft's
 * own lib/zn-http.js prefixes its paths with it), and an `authorization` when the caller sent
 * none. plughost serves those calls in-process for the calling workspace only, so the value
 * is a per-call placeholder, never a token the host's API accepts.
 */
function zengineHeaders(headers: Headers, baseurl: string): Headers {
  return { ...headers, baseurl, ...(headers.authorization === undefined ? { authorization: `Bearer zn-${randomUUID()}` } : {}) };
}

export interface RouteCallResult {
  runId: string;
  /** The plugin's response as soon as it is sent; undefined if the run ended without one. */
  response: Promise<RouteResponse | undefined>;
  /** The whole run, once it is over (its log complete). */
  done: Promise<Ran>;
}

/** Runs a plugin route. Throws (404, 401, 403) before running anything when it cannot be called. */
export async function callRoute(deps: RouteCallDeps, call: RouteCall, meta: Omit<RunMeta, 'target'>): Promise<RouteCallResult> {
  const plugin = await deps.installations.byNamespace(call.workspaceId, call.namespace);
  const service = plugin?.manifest.services.find((s) => s.route === call.route);
  if (!plugin || !service) {
    throw new PlughostError('ROUTE_NOT_FOUND', `nothing is served at /workspaces/${call.workspaceId}/${call.namespace}/${call.route}: no active installation has that namespace and route`);
  }
  const headers = zengineHeaders(await checkAccess(deps, service, plugin, call), `${deps.baseUrl().replace(/\/+$/, '')}/api/v1/workspaces/${call.workspaceId}`);
  const request = {
    method: call.method, headers, query: call.query, body: call.body,
    params: { workspaceId: call.workspaceId, pluginNamespace: call.namespace, pluginRoute: call.route },
    originalUrl: call.originalUrl, path: call.path,
  };
  const runId = meta.runId ?? newId('run');
  let early!: (r: RouteResponse | undefined) => void;
  const response = new Promise<RouteResponse | undefined>((resolve) => { early = resolve; });
  const done = deps.executor.run(plugin, { kind: 'route', payload: { main: service.main, request }, onResponse: early },
    { ...meta, runId, target: `${call.method} ${call.path}`.slice(0, 300) });
  void done.then((r) => early(r.outcome.response), () => early(undefined));
  return { runId, response, done };
}
