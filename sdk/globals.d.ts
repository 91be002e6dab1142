// The globals plugin code finds in a plughost isolate, for editors and `// @ts-check`
// JavaScript: a plugin folder's jsconfig.json lists "plughost/sdk/globals" under types
// (`plughost init` writes it). Which of them a plugin has depends on its platform: Freshworks
// apps `$db`, `$schedule`, `$request` and `renderData`; Haplo plugins `P`, `O`, `_`, `XDate`.
import type { BinaryData, Db, HaploO, HaploPlugin, HaploServices, ScheduleApi } from 'plughost/sdk';

/** A P.db row of a table: its fields, `id` once saved, `save()` and `deleteObject()`. */
interface HaploDbRow { id?: number; save(): HaploDbRow; deleteObject(): boolean; [field: string]: any }
/** A P.db select: run when first read (`length`, `[i]`, `each`, iteration), then fixed. */
interface HaploDbSelect extends Iterable<HaploDbRow> {
  readonly length: number;
  readonly [index: number]: HaploDbRow;
  where(field: string, comparison: '=' | '<>' | '!=' | '<' | '>' | '<=' | '>=' | 'LIKE', value: unknown): HaploDbSelect;
  or(fn: (clause: HaploDbSelect) => void): HaploDbSelect;
  and(fn: (clause: HaploDbSelect) => void): HaploDbSelect;
  order(field: string, descending?: boolean): HaploDbSelect;
  stableOrder(): HaploDbSelect;
  limit(n: number): HaploDbSelect;
  offset(n: number): HaploDbSelect;
  include(field: string): HaploDbSelect;
  each(fn: (row: HaploDbRow, index: number) => unknown): HaploDbSelect;
  count(): number;
  deleteAll(): number;
  update(values: Record<string, unknown>): number;
}
interface HaploDbTable { readonly name: string; create(values?: Record<string, unknown>): HaploDbRow; load(id: number): HaploDbRow | null; select(): HaploDbSelect }
interface HaploDbField { type: string; nullable?: boolean; indexed?: boolean; uniqueIndex?: boolean; indexedWith?: string[]; linkedTable?: string }
interface HaploHttpResponse { successful: boolean; status: string; body: BinaryData; bodyAsString(): string; headers: Record<string, string>; errorMessage: string | null }
interface HaploHttpClient {
  url(url: string): HaploHttpClient;
  method(method: string): HaploHttpClient;
  header(name: string, value: string): HaploHttpClient;
  body(contentType: string, body: string): HaploHttpClient;
  bodyParameter(name: string, value: unknown): HaploHttpClient;
  useCredentialsFromKeychain(name: string): HaploHttpClient;
  request(callback: { readonly $callbackName: string }, data?: unknown): void;
}
interface HaploRespondE {
  request: { method: string; path: string; parameters: Record<string, string>; headers: Record<string, string | string[] | undefined>; body: string; remainingPath: string; extraPathElements: string[] };
  response: { statusCode: number; kind: 'json' | 'text' | 'html' | string; body: unknown; headers: Record<string, string>; redirect(url: string): void };
}

declare global {
  /** Freshworks' key-value store of the installation. */
  const $db: Db & { set(key: string, value: unknown, options?: { setIf?: 'exist' | 'not_exist'; ttl?: number }): Promise<{ Created: true }> };
  /** Freshworks' schedules of the installation. */
  const $schedule: ScheduleApi;
  /** Freshworks' request templates (config/requests.json). */
  const $request: { invokeTemplate(name: string, options?: { context?: Record<string, unknown>; body?: string }): Promise<{ status: number; headers: Record<string, string>; response: string }> };
  /** A Freshworks server method's answer: `renderData(null, data)` or `renderData({status, message})`. */
  function renderData(error: { status: number; message: string } | null, data?: unknown): void;

  /** Haplo's plugin object. */
  const P: HaploPlugin & HaploServices & {
    respond(methods: string, path: string, args: Array<Record<string, unknown>>, handler: (E: HaploRespondE, ...args: any[]) => unknown): void;
    db: { table(name: string, fields: Record<string, HaploDbField>, methods?: Record<string, unknown> | ((prototype: any) => void)): void; [table: string]: any };
    backgroundCallback(name: string, fn: (data: any) => unknown): void;
    callback(name: string, fn: (data: any, client: unknown, response: HaploHttpResponse) => unknown): { readonly $callbackName: string };
    onLoad?: () => void;
    [name: string]: any;
  };
  /** Haplo's O. */
  const O: HaploO & {
    application: { name: string; hostname: string; url: string; config: Record<string, unknown> };
    background: { run(name: string, data?: unknown): void };
    httpClient(url?: string): HaploHttpClient;
    keychain: { credential(name: string): { name: string; kind: string; instanceKind: string; account: Record<string, string>; secret: Record<string, string> }; query(kind?: string): unknown[] };
    audit: { write(entry: { auditEntryType: string; [key: string]: unknown }): void };
    stop(message?: string, title?: string): never;
    [name: string]: any;
  };
  /** Underscore 1.13 and XDate 0.8, as Haplo gives them. */
  const _: any;
  const XDate: any;
}
export {};
