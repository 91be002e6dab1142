// The plugin author's test harness. `createTestHost()` starts a whole plughost (the same
// `createHost` as production, with production limits) on a temp SQLite file, a loopback port
// and a virtual clock; the handle installs plugins, calls their routes, moves time through
// their schedules and hooks, reads runs and stands in for the external services they call.
//
//   import { createTestHost } from '../../sdk/testing.ts';   // relative to your test file
//   const t = await createTestHost({ stubs: ['api.example.com'] });
//   const app = await t.install(pluginDir, { iparams: { token: 'x' } });
//   const res = await app.call('digest', { method: 'POST', body: { a: 1 } });
//   await t.advance(60 * 60_000);
//   await t.close();
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHost, type Host } from '../runtime/host.ts';
import { createLogger } from '../runtime/logger.ts';
import { resolveOptions, type HostOptions } from '../runtime/options.ts';
import { isFdkApp, sanitizedName } from '../runtime/packages/fdk.ts';
import { packFiles, readPackageDirectory } from '../runtime/packages/pack.ts';
import type { Run } from '../runtime/store/runs.ts';
import { steppingClock } from './stepping-clock.ts';
import { startStub, type Stub, type StubHandler } from './stub-server.ts';

export type { Run } from '../runtime/store/runs.ts';
export type { Stub, StubHandler, StubReply, StubRequest } from './stub-server.ts';

export interface TestHostOptions {
  /** Virtual time to start at (ISO string or epoch ms). Default: the real time now. */
  start?: string | number;
  /** Id of the workspace made at start, used when a call names none. Default `test`. */
  workspace?: string;
  /** IANA time zone of that workspace (Haplo hooks follow it). Default `UTC`. */
  timezone?: string;
  /** Host names (as in `permissions.hosts`) to serve with local stand-ins; see `stub()`. */
  stubs?: string[];
  /** Departures from the production `$schedule` rules, e.g. `{ minLeadMs: 0 }`. Default: none. */
  schedules?: Partial<Pick<HostOptions['schedules'], 'minLeadMs' | 'maxOneTime' | 'maxRecurring' | 'minRepeatMinutes'>>;
  /** `postgres://…` to run on PostgreSQL. Default: PLUGHOST_TEST_DATABASE_URL, else SQLite in a temp folder. */
  databaseUrl?: string;
  /** Host log level on stderr. Default: PLUGHOST_TEST_LOG, else `silent`. */
  logLevel?: string;
}

/** A plugin package given inline: file path → text, or an object (written as JSON). */
export type InlineFiles = Record<string, string | object>;

export interface CallOptions {
  /** Default: POST when there is a body, else GET. */
  method?: string;
  query?: Record<string, string | number | boolean | Array<string | number>>;
  /** An object is sent as JSON, a string as text/plain, bytes as application/octet-stream. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Workspace of the route. Default: the test host's workspace (or the installation's). */
  workspace?: string;
}

export interface CallResult {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** Parsed JSON when the response is JSON, else the text. */
  body: any;
  text: string;
  /** The run that served the call (`x-plughost-run`); `run(runId)` has its log. */
  runId: string | null;
}

export interface TestInstallation {
  id: string;
  plugin: string;
  version: string;
  namespace: string;
  workspaceId: string;
  active: boolean;
  /** Plain iparams (secure ones are never shown). */
  iparams: Record<string, unknown>;
  routes: Array<{ route: string; access: string; path: string }>;
  /** Calls one of its routes: `app.call('digest')`, `app.call('digest/sub/path?x=1')`. */
  call(route: string, options?: CallOptions): Promise<CallResult>;
  /**
   * Calls one of its server methods (a Freshworks app's `functions`), as FDK's
   * `client.request.invoke(name, args)` does: `{status, body: {requestID, response} | {requestID, status, message}, runId}`.
   */
  invoke(name: string, args?: Record<string, unknown>): Promise<{ status: number; body: any; runId: string | undefined }>;
}

export interface InstallOptions {
  iparams?: Record<string, unknown>;
  workspace?: string;
  /** An FDK app's name (its manifest has none): default the folder's name, or `fdk-app` for inline files. */
  name?: string;
  /** An FDK app's version (default 1.0.0). */
  version?: string;
}

export interface RunFilter { kind?: Run['kind']; status?: Run['status']; installation?: string; schedule?: string; workspace?: string }

export interface ApiResult { status: number; body: any; headers: Record<string, string> }

export interface QueueView { group: string; method: 'send' | 'poll'; title: string; description: string; unsent: number; sent: number; lastError: string | null }
export interface MessageView { id: number; group: string; status: 'unsent' | 'sending' | 'sent'; data: Record<string, unknown>; createdAt: string; sentAt: string | null }

export interface TestHost {
  /** Base URL of the host on loopback. */
  url: string;
  /** The default workspace's id. */
  workspace: string;
  operatorToken: string;
  /** The host itself, for what this harness does not cover. */
  host: Host;
  /** Publishes a plugin (folder path or inline files) and installs it; creates the workspace if needed. */
  install(plugin: string | InlineFiles, options?: InstallOptions): Promise<TestInstallation>;
  /**
   * Fires a Freshworks product event (`onTicketCreate`, …) with `data` into every installation
   * of the workspace that handles it; resolves with their runs once they have finished.
   */
  event(name: string, data?: Record<string, unknown>, options?: { workspace?: string }): Promise<Run[]>;
  /** Calls a plugin route: `'namespace/route[/sub][?q=1]'` in the default workspace, or a path from `/`. */
  call(route: string, options?: CallOptions): Promise<CallResult>;
  /** Virtual now, epoch ms. */
  now(): number;
  /** Moves virtual time forward through every due schedule and hook, in order; resolves when the scheduler is idle. */
  advance(ms: number): Promise<void>;
  /** Moves virtual time forward to `time` (ISO or epoch ms), as `advance` does. */
  setTime(time: string | number): Promise<void>;
  /** Runs, oldest first (all pages); `log` is only filled by `run(id)`. */
  runs(filter?: RunFilter): Promise<Run[]>;
  /** One run with its captured log. */
  run(id: string, options?: { workspace?: string }): Promise<Run>;
  /** The stand-in for a host named in `stubs`; a handler sets how it answers. */
  stub(name: string, handler?: StubHandler): Stub;
  /** The workspace data that `zn-http` reads (the admin data API). */
  forms: {
    create(name: string, options?: { workspace?: string }): Promise<{ id: number; name: string }>;
    createFolder(formId: number, name: string, options?: { workspace?: string }): Promise<{ id: number; name: string }>;
    list(options?: { workspace?: string }): Promise<Array<{ id: number; name: string }>>;
  };
  records: {
    /** Records as `{name, folder?: {id}, fields?}` or just a name; resolves with the stored records. */
    create(formId: number, records: Array<RecordInput | string> | RecordInput | string, options?: { workspace?: string }): Promise<any[]>;
    list(formId: number, options?: { folder?: number; workspace?: string }): Promise<any[]>;
  };
  /** An integration-message queue (undefined until discovered) and its messages, oldest first. */
  messages(group: string, options?: { workspace?: string }): Promise<{ queue: QueueView | undefined; messages: MessageView[] }>;
  /** Any admin API call with the operator token: `api('GET', '/api/v1/workspaces/test/schedules')`. */
  api(method: string, path: string, body?: unknown): Promise<ApiResult>;
  /** Stops the host and the stubs and removes the temp folder; safe to call twice. */
  close(): Promise<void>;
}

export interface RecordInput { name: string; folder?: { id: number }; fields?: Record<string, unknown> }

/** An admin API or publish failure, with the host's stable error `code`. */
export class TestHostError extends Error {
  code: string;
  status: number;
  details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'TestHostError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const OPERATOR_TOKEN = 'plughost-test-operator-token';

function toMs(time: string | number, what: string): number {
  const ms = typeof time === 'number' ? time : Date.parse(time);
  if (!Number.isFinite(ms)) throw new TypeError(`${what}: ${JSON.stringify(time)} is not an ISO date-time or epoch milliseconds`);
  return ms;
}

function headersOf(h: globalThis.Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((value, name) => { out[name] = value; });
  return out;
}

function parseText(text: string, contentType: string | null): unknown {
  if (!/json/i.test(contentType ?? '') || text === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function createTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const workspace = options.workspace ?? 'test';
  const stubs = new Map<string, Stub>();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-sdk-'));
  const { clock, inner, nextAfter } = steppingClock(options.start === undefined ? Date.now() : toMs(options.start, 'start'));
  let host: Host | undefined;
  try {
    for (const name of options.stubs ?? []) stubs.set(name.toLowerCase(), await startStub(name));
    const databaseUrl = options.databaseUrl ?? process.env.PLUGHOST_TEST_DATABASE_URL;
    const base = resolveOptions({ data: dataDir, operatorToken: OPERATOR_TOKEN, port: 0, ...(databaseUrl ? { databaseUrl } : {}) }, {});
    const hostOptions: HostOptions = {
      ...base,
      egressMap: Object.fromEntries([...stubs].map(([name, s]) => [name, s.url])),
      sandbox: { ...base.sandbox, spareIsolates: 1 },
      // One host, woken by every change it makes: it need not poll for other nodes' schedules,
      // and without polling `advance` stops only at the times something is due.
      schedules: { ...base.schedules, ...options.schedules, pollMs: 7 * 24 * 3_600_000 },
    };
    host = await createHost(hostOptions, {
      clock,
      logger: createLogger(options.logLevel ?? process.env.PLUGHOST_TEST_LOG ?? 'silent'),
      // On PostgreSQL each test host gets its own schema, as it gets its own file on SQLite.
      ...(databaseUrl ? { schema: `t_${createHash('sha256').update(dataDir).digest('hex').slice(0, 20)}` } : {}),
    });
  } catch (err) {
    await host?.close();
    await Promise.all([...stubs.values()].map((s) => s.close()));
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const h = host;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await h.close();
      await Promise.all([...stubs.values()].map((s) => s.close()));
      fs.rmSync(dataDir, { recursive: true, force: true });
    })();
    return closing;
  };

  let url: string;
  try {
    url = await h.listen(0, '127.0.0.1');
    await h.start();
  } catch (err) {
    await close();
    throw err;
  }

  const api = async (method: string, p: string, body?: unknown): Promise<ApiResult> => {
    const headers: Record<string, string> = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    let payload: string | Uint8Array | undefined;
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/gzip';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(url + p, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    const text = await res.text();
    return { status: res.status, body: parseText(text, res.headers.get('content-type')), headers: headersOf(res.headers) };
  };

  /** The body on success; a TestHostError with the host's code otherwise. */
  const expect = async (method: string, p: string, body?: unknown): Promise<any> => {
    const res = await api(method, p, body);
    if (res.status >= 200 && res.status < 300) return res.body;
    const e = (res.body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new TestHostError(res.status, e?.code ?? `HTTP_${res.status}`, `${method} ${p}: ${e?.message ?? `HTTP ${res.status}`}`, e?.details);
  };

  const wsPath = (ws: string | undefined) => `/api/v1/workspaces/${encodeURIComponent(ws ?? workspace)}`;

  const ensureWorkspace = async (id: string, timezone = 'UTC') => {
    const res = await api('GET', wsPath(id));
    if (res.status === 200) return;
    await expect('POST', '/api/v1/workspaces', { id, name: id, timezone });
  };

  try {
    await ensureWorkspace(workspace, options.timezone);
  } catch (err) {
    await close();
    throw err;
  }

  const publish = async (plugin: string | InlineFiles, opts: InstallOptions) => {
    let files: Map<string, Uint8Array>;
    if (typeof plugin === 'string') {
      files = (await readPackageDirectory(path.resolve(plugin), { ...(opts.name ? { name: opts.name } : {}), fallbackName: sanitizedName(path.basename(path.resolve(plugin))) })).files;
    } else {
      files = new Map(Object.entries(plugin).map(([name, content]) => [name, new Uint8Array(Buffer.from(typeof content === 'string' ? content : JSON.stringify(content)))]));
    }
    // An FDK app names no plugin: the query does, as `plughost publish` sends it.
    const fdk = isFdkApp(files);
    const identity = fdk ? { name: opts.name ?? (typeof plugin === 'string' ? sanitizedName(path.basename(path.resolve(plugin))) : 'fdk-app'), version: opts.version ?? '1.0.0' } : undefined;
    const res = await api('POST', `/api/v1/plugins${identity ? `?${new URLSearchParams(identity)}` : ''}`, await packFiles(files));
    if (res.status === 201) return res.body as { name: string; version: string };
    const error = res.body?.error as { code?: string; message?: string; details?: unknown } | undefined;
    if (error?.code === 'VERSION_EXISTS') {
      // The same package again (a second workspace, a second test) is fine; other files are not.
      const manifest = identity ?? JSON.parse(Buffer.from(files.get('plugin.json') ?? new Uint8Array()).toString('utf8')) as { name: string; version: string };
      const stored = await h.store.pluginVersions.files(manifest.name, manifest.version);
      const same = stored.size === files.size && [...files].every(([name, bytes]) => Buffer.compare(Buffer.from(stored.get(name) ?? []), Buffer.from(bytes)) === 0);
      if (same) return manifest;
      throw new TestHostError(409, 'VERSION_EXISTS', `${manifest.name}@${manifest.version} is already published on this test host with other files; bump "version" in plugin.json`);
    }
    const details = Array.isArray(error?.details) ? ` [${(error.details as Array<{ path?: string; message?: string }>).map((d) => `${d.path}: ${d.message}`).join('; ')}]` : '';
    throw new TestHostError(res.status, error?.code ?? `HTTP_${res.status}`, `publishing failed: ${error?.message ?? `HTTP ${res.status}`}${details}`, error?.details);
  };

  const call = async (route: string, opts: CallOptions = {}): Promise<CallResult> => {
    const target = new URL(route.startsWith('/') ? route : `/workspaces/${encodeURIComponent(opts.workspace ?? workspace)}/${route}`, url);
    for (const [name, value] of Object.entries(opts.query ?? {})) {
      for (const v of Array.isArray(value) ? value : [value]) target.searchParams.append(name, String(v));
    }
    const headers: Record<string, string> = { ...opts.headers };
    const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
    let body: string | Uint8Array | undefined;
    if (typeof opts.body === 'string') {
      body = opts.body;
      if (!hasType) headers['content-type'] = 'text/plain; charset=utf-8';
    } else if (opts.body instanceof Uint8Array) {
      body = opts.body;
      if (!hasType) headers['content-type'] = 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      if (!hasType) headers['content-type'] = 'application/json';
    }
    const res = await fetch(target, { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    return { status: res.status, headers: headersOf(res.headers), body: parseText(text, res.headers.get('content-type')), text, runId: res.headers.get('x-plughost-run') };
  };

  const settle = () => h.scheduler.idle();
  const moveTo = async (target: number) => {
    if (target < inner.now()) throw new RangeError(`virtual time only moves forward: ${new Date(target).toISOString()} is before ${new Date(inner.now()).toISOString()}`);
    await settle();
    // Stop at every due time on the way, as real time would, so each occurrence fires on time
    // (one jump past several would be a misfire, and the schedule's policy would coalesce it).
    for (let next = nextAfter(inner.now()); next !== undefined && next <= target; next = nextAfter(inner.now())) {
      await inner.set(next);
      await settle();
    }
    await inner.set(target);
    await settle();
  };

  const listAll = async (p: string): Promise<any[]> => {
    const out: any[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: any[]; nextCursor: string | null } = await expect('GET', `${p}${p.includes('?') ? '&' : '?'}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      out.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  };

  const bindInstallation = (view: Omit<TestInstallation, 'call' | 'invoke'>): TestInstallation => ({
    ...view,
    call: (route, opts = {}) => call(`${view.namespace}/${route.replace(/^\/+/, '')}`, { ...opts, workspace: opts.workspace ?? view.workspaceId }),
    async invoke(name, args = {}) {
      const res = await api('POST', `/workspaces/${encodeURIComponent(view.workspaceId)}/${view.namespace}/smi/${encodeURIComponent(name)}`, args);
      return { status: res.status, body: res.body, runId: res.headers['x-plughost-run'] };
    },
  });

  return {
    url, workspace, operatorToken: OPERATOR_TOKEN, host: h, api, call, close,

    async install(plugin, opts = {}) {
      const ws = opts.workspace ?? workspace;
      const published = await publish(plugin, opts);
      await ensureWorkspace(ws);
      const view = await expect('POST', `${wsPath(ws)}/installations`, { plugin: published.name, version: published.version, iparams: opts.iparams ?? {} });
      await settle(); // hooks and schedules the installation brought are planned
      return bindInstallation({
        id: view.id, plugin: view.plugin, version: view.version, namespace: view.namespace, workspaceId: view.workspaceId,
        active: view.active, iparams: view.iparams, routes: view.routes,
      });
    },

    async event(name, data = {}, opts = {}) {
      // Heard from before the call: a run may finish before the answer names it.
      const finished = new Set<string>();
      let wake = () => undefined as void;
      const listener = (run: { id: string }) => { finished.add(run.id); wake(); };
      h.events.on('run:finished', listener);
      try {
        const fired = await expect('POST', `${wsPath(opts.workspace)}/events`, { event: name, data }) as { runs: Array<{ runId: string }> };
        while (!fired.runs.every((r) => finished.has(r.runId))) await new Promise<void>((resolve) => { wake = resolve; });
        await h.recorder.flush();
        return await Promise.all(fired.runs.map((r) => expect('GET', `${wsPath(opts.workspace)}/runs/${r.runId}`) as Promise<Run>));
      } finally {
        h.events.off('run:finished', listener);
      }
    },

    now: () => inner.now(),
    advance: (ms) => moveTo(inner.now() + ms),
    setTime: (time) => moveTo(toMs(time, 'setTime')),

    async runs(filter = {}) {
      const q = new URLSearchParams();
      if (filter.kind) q.set('kind', filter.kind);
      if (filter.status) q.set('status', filter.status);
      if (filter.installation) q.set('installation', filter.installation);
      if (filter.schedule) q.set('schedule', filter.schedule);
      const runs = (await listAll(`${wsPath(filter.workspace)}/runs?${q}`)) as Run[];
      return runs.sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1));
    },
    run: (id, opts = {}) => expect('GET', `${wsPath(opts.workspace)}/runs/${encodeURIComponent(id)}`),

    stub(name, handler) {
      const s = stubs.get(name.toLowerCase());
      if (!s) throw new Error(`no stub for ${name}: list it in createTestHost({ stubs: [${JSON.stringify(name)}] }) so the host maps it when it starts`);
      if (handler) s.reply(handler);
      return s;
    },

    forms: {
      create: async (name, opts = {}) => (await expect('POST', `${wsPath(opts.workspace)}/forms`, { name })).data,
      createFolder: async (formId, name, opts = {}) => (await expect('POST', `${wsPath(opts.workspace)}/forms/${formId}/folders`, { name })).data,
      list: async (opts = {}) => (await expect('GET', `${wsPath(opts.workspace)}/forms`)).data,
    },
    records: {
      async create(formId, records, opts = {}) {
        const out = [];
        for (const r of Array.isArray(records) ? records : [records]) {
          out.push((await expect('POST', `${wsPath(opts.workspace)}/forms/${formId}/records`, typeof r === 'string' ? { name: r } : r)).data);
        }
        return out;
      },
      async list(formId, opts = {}) {
        const folder = opts.folder === undefined ? '' : `&folder.id=${opts.folder}`;
        const out = [];
        for (let page = 1; ; page++) {
          const res = await expect('GET', `${wsPath(opts.workspace)}/forms/${formId}/records?limit=500&page=${page}${folder}`);
          out.push(...res.data);
          if (res.data.length < 500) return out;
        }
      },
    },

    async messages(group, opts = {}) {
      const queues = await expect('GET', `${wsPath(opts.workspace)}/integration-messages`);
      const queue = (queues.data as QueueView[]).find((q) => q.group === group);
      const messages: MessageView[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: MessageView[]; nextCursor: string | null } = await expect('GET', `${wsPath(opts.workspace)}/integration-messages/${encodeURIComponent(group)}/messages?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
        messages.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      return { queue, messages: messages.sort((a, b) => a.id - b.id) };
    },
  };
}
