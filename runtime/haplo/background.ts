// Haplo's background work on the scheduler's durable ledger. `O.background.run(name, data)`
// and `O.httpClient(url)…request(callback, data)` each become a one-time schedule of kind
// `background`, due at once: it fires as a run of kind `background` (on whichever node claims
// it, after a crash or an outage too), calling the plugin's `P.backgroundCallback(name, fn)`,
// or making the HTTP request under the egress policy and calling its `P.callback(name, fn)`
// with the response. A background callback that fails is retried by the schedule's policy;
// an HTTP request is made once (retrying could send it twice), its failure handed to the callback.
import { PlughostError } from '../errors.ts';
import { newId } from '../ids.ts';
import type { HostOptions } from '../options.ts';
import type { SandboxPlugin } from '../sandbox/types.ts';
import type { Store } from '../store/store.ts';

export interface BackgroundRequest { t: 'background'; name?: unknown; callback?: unknown; data?: unknown; http?: unknown }

/** A queued job: a background callback, or an HTTP request whose response goes to a callback. */
export interface BackgroundSpec {
  name: string;
  data: unknown;
  /** `keychain`: the credential to add when the request is made (its name; never the secret). */
  http?: { url: string; method: string; headers: Record<string, string>; body?: string; keychain?: string };
}

/** Retries of a failed background callback (the HTTP request of a callback job is made once). */
export const BACKGROUND_RETRIES = 3;
/** Fired jobs' schedule rows are cleared after a day (their runs stay in the run log). */
const KEEP_FIRED_MS = 24 * 3_600_000;
const NAME = /^[A-Za-z0-9_]{1,100}:[A-Za-z0-9_.:-]{1,100}$/;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

const invalid = (message: string) => new PlughostError('INVALID_BODY', message);

function checkHttp(raw: unknown, maxBytes: number): BackgroundSpec['http'] {
  const h = raw as Record<string, unknown> | null;
  if (!h || typeof h !== 'object') throw invalid('O.httpClient: bad request');
  if (typeof h.url !== 'string' || h.url.length > 4096 || !URL.canParse(h.url)) throw invalid('O.httpClient: give the absolute URL to request (O.httpClient(url) or .url(url))');
  const method = String(h.method ?? 'GET').toUpperCase();
  if (!METHODS.has(method)) throw invalid(`O.httpClient: method ${method.slice(0, 20)} is not an HTTP method it sends`);
  const headers: Record<string, string> = {};
  const entries = Object.entries((h.headers ?? {}) as Record<string, unknown>);
  if (entries.length > 50) throw invalid('O.httpClient: at most 50 headers');
  for (const [k, v] of entries) headers[k.slice(0, 200)] = String(v).slice(0, 8192);
  if (h.body !== undefined && (typeof h.body !== 'string' || Buffer.byteLength(h.body) > maxBytes)) throw invalid(`O.httpClient: the body must be a string of at most ${maxBytes} bytes`);
  if (h.keychain !== undefined && (typeof h.keychain !== 'string' || h.keychain.length > 200)) throw invalid('O.httpClient: useCredentialsFromKeychain takes a credential name');
  return { url: h.url, method, headers, ...(typeof h.body === 'string' ? { body: h.body } : {}), ...(typeof h.keychain === 'string' ? { keychain: h.keychain } : {}) };
}

export function createBackground(deps: { store: Store; options: HostOptions; now: () => number; changed: () => void }) {
  const { store, options, now } = deps;
  return {
    /** Queues a job for `plugin`; answers when it is stored (O.background.run returns then). */
    async enqueue(plugin: SandboxPlugin, request: BackgroundRequest): Promise<undefined> {
      const privileges = plugin.manifest.haplo?.privileges ?? [];
      const http = request.http !== undefined;
      const needs = http ? 'pHTTPClient' : 'pBackgroundProcessing';
      if (!privileges.includes(needs)) {
        throw new PlughostError('FORBIDDEN', `${http ? 'O.httpClient' : 'O.background.run'} needs the "${needs}" privilege: add it to the "privilegesRequired" array of plugin.json`);
      }
      const name = String(request.name ?? request.callback ?? '');
      const pluginName = plugin.manifest.haplo!.pluginName;
      if (!NAME.test(name) || !name.startsWith(`${pluginName}:`)) {
        throw invalid(`${http ? 'a P.callback' : 'O.background.run'} name is "${pluginName}:<name>" for this plugin, not ${JSON.stringify(name.slice(0, 120))}`);
      }
      const dataJson = JSON.stringify(request.data ?? null) ?? 'null';
      if (Buffer.byteLength(dataJson) > options.limits.messageBytes) {
        throw new PlughostError('PLUGIN_LIMIT', `background data is ${Buffer.byteLength(dataJson)} bytes of JSON, over the limit of ${options.limits.messageBytes} (limits.messageBytes)`, { details: { limit: 'messageBytes' } });
      }
      const spec: BackgroundSpec = { name, data: JSON.parse(dataJson), ...(http ? { http: checkHttp(request.http, options.limits.messageBytes) } : {}) };
      const at = now();
      await store.schedules.deleteFired(plugin.installationId, 'background', at - KEEP_FIRED_MS);
      const queued = await store.schedules.pendingCount(plugin.installationId, 'background');
      if (queued >= options.limits.backgroundQueued) {
        throw new PlughostError('PLUGIN_LIMIT', `${queued} background jobs of this installation are waiting, its limit (limits.backgroundQueued); nothing was queued`, { details: { limit: 'backgroundQueued' } });
      }
      const id = newId('bg', at);
      await store.schedules.insert({
        id, workspaceId: plugin.workspaceId, installationId: plugin.installationId, kind: 'background', name, uniqueKey: `background:${id}`,
        spec: spec as never, recurrence: { type: 'interval', at, everyMs: undefined }, active: true, nextRunAt: at,
        // Late (the host was down): it still runs, once.
        misfire: 'coalesce', overlap: 'allow', maxRetries: http ? 0 : BACKGROUND_RETRIES, secret: null, createdAt: at, updatedAt: at,
      });
      deps.changed();
      return undefined;
    },
  };
}
export type Background = ReturnType<typeof createBackground>;
