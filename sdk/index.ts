// Types for plugin authors: what plugin code sees inside a plughost isolate. Import them in
// JSDoc (`/** @param {import('plughost/sdk').EventData} eventData */`) or in TypeScript tooling.

/** `eventData.request` of a plugin route (Zengine's contract). */
export interface PluginRequest {
  method: string;
  /** Lower-cased header names. */
  headers: Record<string, string | string[] | undefined>;
  /** Query parameters; a repeated name is an array. */
  query: Record<string, string | string[]>;
  /** JSON and form bodies parsed, anything else as text. */
  body: unknown;
  params: { workspaceId: string; pluginNamespace: string; pluginRoute: string };
  originalUrl: string;
  path: string;
}

/** `eventData.response`: Express-style and chainable. The HTTP response goes out on send/json/end. */
export interface PluginResponse {
  readonly headersSent: boolean;
  readonly statusCode: number;
  status(code: number): PluginResponse;
  set(name: string, value: string | string[]): PluginResponse;
  set(headers: Record<string, string>): PluginResponse;
  header(name: string, value: string): PluginResponse;
  get(name: string): string | undefined;
  type(contentType: string): PluginResponse;
  /** A string (text/html), an object (JSON) or bytes (Uint8Array/ArrayBuffer). */
  send(body?: unknown): PluginResponse;
  json(body: unknown): PluginResponse;
  end(body?: unknown): PluginResponse;
  sendStatus(code: number): PluginResponse;
  redirect(url: string): PluginResponse;
  redirect(status: number, url: string): PluginResponse;
}

export interface EventData { request: PluginRequest; response: PluginResponse }

/** A service module: `exports.run = function (eventData) {…}`. */
export interface ServiceModule { run(eventData: EventData): unknown }

/** What `$db` rejects with: a plain object, as in Freshworks. */
export interface PlatformError { status: number; message: string }

/** Freshworks' key-value store, one per installation. Values are JSON (at most 64 KiB). */
export interface Db {
  set(key: string, value: unknown, options?: { setIf?: 'exist' | 'not_exist' }): Promise<{ Created: true }>;
  get(key: string): Promise<unknown>;
  /** Dotted attribute paths: `update('k', 'increment', { 'stats.count': 1 })`. */
  update(key: string, action: 'set' | 'increment' | 'append', attributes: Record<string, unknown>): Promise<{ Updated: true }>;
  update(key: string, action: 'remove', attributes: string[]): Promise<{ Updated: true }>;
  delete(key: string): Promise<{ Deleted: true }>;
}

/** A response from `requestify` and `zn-http`. HTTP errors (>= 400) reject with it. */
export interface RequestifyResponse {
  code: number;
  body: string;
  headers: Record<string, string>;
  getCode(): number;
  getHeaders(): Record<string, string>;
  getHeader(name: string): string | undefined;
  /** Parsed JSON when the response is JSON, else the text. */
  getBody(): any;
}

export interface RequestifyOptions {
  method?: string;
  headers?: Record<string, string>;
  params?: Record<string, string | number>;
  body?: unknown;
  dataType?: 'json' | 'form-url-encoded';
  auth?: { username: string; password?: string };
  redirect?: boolean;
}

/** `require('requestify')`. Promises also have `.fail(fn)` (= `.catch`). */
export interface Requestify {
  request(url: string, options?: RequestifyOptions): Promise<RequestifyResponse>;
  get(url: string, options?: RequestifyOptions): Promise<RequestifyResponse>;
  head(url: string, options?: RequestifyOptions): Promise<RequestifyResponse>;
  delete(url: string, options?: RequestifyOptions): Promise<RequestifyResponse>;
  post(url: string, body?: unknown, options?: RequestifyOptions): Promise<RequestifyResponse>;
  put(url: string, body?: unknown, options?: RequestifyOptions): Promise<RequestifyResponse>;
  patch(url: string, body?: unknown, options?: RequestifyOptions): Promise<RequestifyResponse>;
}

/** `require('zn-http')()`: paths read the workspace data API; absolute URLs are egress. */
export interface ZnHttpClient {
  get(path: string, options?: RequestifyOptions): Promise<RequestifyResponse>;
  post(path: string, body?: unknown, options?: RequestifyOptions): Promise<RequestifyResponse>;
  put(path: string, body?: unknown, options?: RequestifyOptions): Promise<RequestifyResponse>;
  del(path: string, options?: RequestifyOptions): Promise<RequestifyResponse>;
}
export type ZnHttp = () => ZnHttpClient;

/** `require('plughost')`. */
export interface PlughostModule {
  readonly context: { workspaceId: string; installationId: string; namespace: string };
  /** The installation's parameters, secure ones included. */
  readonly iparams: Record<string, unknown>;
  fetch: typeof fetch;
  db: Db;
}

/** Error codes a caller of a plugin route may see in `{"error": {"code"}}`. */
export type PluginErrorCode = 'PLUGIN_ERROR' | 'PLUGIN_TIMEOUT' | 'PLUGIN_MEMORY_LIMIT' | 'PLUGIN_RESULT_TOO_LARGE' | 'PLUGIN_NO_HANDLER' | 'PLUGIN_LOAD_ERROR';

/** `$schedule` (Freshworks): one-time and recurring schedules of the installation. */
export interface ScheduleSpec {
  name: string;
  data: Record<string, unknown>;
  /** ISO date-time, at least 5 minutes ahead. */
  schedule_at: string;
  repeat?: { time_unit: 'minutes' | 'hours' | 'days'; frequency: number };
}
export interface ScheduleApi {
  create(spec: ScheduleSpec): Promise<{ status: 200; message: string }>;
  fetch(args: { name: string }): Promise<ScheduleSpec>;
  update(spec: Partial<ScheduleSpec> & { name: string }): Promise<{ status: 200; message: string }>;
  delete(args: { name: string }): Promise<{ status: 200; message: string }>;
}

/** What the `events.onScheduledEvent` handler receives. */
export interface ScheduledEventPayload {
  /** The workspace id. */
  account_id: string;
  event: 'onScheduledEvent';
  region: string;
  /** The occurrence's due time, epoch ms. */
  timestamp: number;
  domain: string;
  data: Record<string, unknown>;
  iparams: Record<string, unknown>;
  /** Stable for the occurrence across retries and crash re-runs. */
  idempotencyKey: string;
  schedule: { name: string };
}

/** Haplo's `P`: schedule hooks. */
export type ScheduleHookName = 'hScheduleHourly' | 'hScheduleDailyMidnight' | 'hScheduleDailyEarly' | 'hScheduleDailyMidday' | 'hScheduleDailyLate';
export interface HaploPlugin {
  hook(name: ScheduleHookName, fn: (response: { idempotencyKey: string }, year: number, month0to11: number, dayOfMonth: number, hour: number, dayOfWeek: number) => unknown): void;
}

/** Haplo's `P.implementService`, and `O`: services across the workspace's installations. */
export interface HaploServices {
  implementService(name: string, fn: (...args: any[]) => unknown): void;
}
export interface BinaryData { readonly text: string; readonly mimeType: string; readonly filename: string; readonly fileSize: number; readAsString(): string }
export interface HaploO {
  /** Synchronous: the first implementation (install order) returning other than undefined; throws when nobody implements it. */
  service(name: string, ...args: unknown[]): any;
  serviceMaybe(name: string, ...args: unknown[]): any;
  serviceImplemented(name: string): boolean;
  binaryData(text: string, options?: { mimeType?: string; filename?: string }): BinaryData;
}

/** The integration-message services the host implements (Haplo seed 002). */
export interface IntegrationMessageServices {
  'haplo:integration-message:add': (details: { group: string; data: Record<string, unknown> }) => number;
  'haplo:integration-message:send': (details: { group: string }) => { sent: number };
}
/** What plugins implement for a queue GROUP. */
export interface IntegrationMessageImplementations {
  'haplo:integration-message:discover': (discover: (queue: { group: string; method: 'poll' | 'send'; title: string; description: string }) => void) => void;
  /** `write-messages:GROUP`: format a batch; `messages` are `{id, datetime, data}`. */
  writeMessages: (messages: Array<{ id: number; datetime: string; data: Record<string, unknown> }>, token: string) => BinaryData;
  /** `setup-http-request:GROUP` (or `format-http-request:GROUP`): set where the batch goes. */
  setupHttpRequest: (httpClient: { url(u: string): unknown; method(m: string): unknown; header(name: string, value: string): unknown }, messages: Array<{ id: number; data: Record<string, unknown> }>) => void;
}
