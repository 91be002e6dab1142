// Freshworks' `$request` on the host: `fdk.request.template` sends one of the app's request
// templates (config/requests.json, plugin.json `requests`) and `fdk.request.legacy` the older
// `$request.get/post/…(url, options)`. `<%= … %>` placeholders are filled here, from the
// installation's iparams (secure ones included) and the call's context: a template's secrets
// need never pass through plugin code. Requests go through the egress client under the host policy and the
// shared in-flight budgets (http.ts); 429 and 5xx answers and network failures are retried
// up to maxAttempts, all within the run's deadline.
// Outcomes always resolve, as `{ok, …}` with the body beside it: FDK's error objects carry
// fields (`attempts`, `errorSource`, `headers`) that a rejected op could not carry.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EgressClient, EgressResponse } from '../../egress/index.ts';
import { isPlughostError, PlughostError } from '../../errors.ts';
import type { RequestTemplate } from '../../packages/manifest.ts';
import { WithBody, type OpCall, type Ops } from '../types.ts';
import { outboundGate, type OutboundBudgets, type OutboundGate } from './http.ts';

/** FDK's own bounds for request options. */
const MAX_ATTEMPTS = 5;
const MAX_RETRY_DELAY_MS = 5000;
const HOST_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/i;
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** A failure of the platform (FDK's `errorSource: 'PLATFORM'`): nothing, or not all, reached the target. */
class PlatformFailure extends Error {
  readonly status: number;
  readonly extra: Record<string, unknown>;
  constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
  }
}

interface Prepared {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Hosts this request may reach beyond permissions.hosts (a template's own host). */
  extraHosts: string[];
  maxAttempts: number;
  retryDelay: number;
  /** The legacy `json` option: the guest parses the answer as JSON. */
  parse: boolean;
  /** For the run's log: the template, or the method and origin (never a path: it may carry tokens). */
  what: string;
}

export function fdkRequestOps(egress: EgressClient, budgets: OutboundBudgets): Ops {
  const gate = outboundGate(egress, budgets);
  const run = async (call: OpCall, prepare: () => Prepared) => {
    try {
      return await send(egress, gate, call, prepare());
    } catch (err) {
      return platformOutcome(err, 0);
    }
  };
  return {
    'fdk.request.template': (call) => run(call, () => fromTemplate(call)),
    'fdk.request.legacy': (call) => run(call, () => fromLegacy(call)),
  };
}

// ---- templates

function fromTemplate(call: OpCall): Prepared {
  const { args, plugin } = call;
  const name = String(args.name ?? '');
  const template: RequestTemplate | undefined = Object.hasOwn(plugin.manifest.requests, name) ? plugin.manifest.requests[name] : undefined;
  if (!template) {
    throw new PlatformFailure(400, `request template \`${name.slice(0, 128)}\` is not declared; add it to the \`requests\` of plugin.json (config/requests.json)`);
  }
  const context = isObject(args.context) ? args.context : {};
  const { schema } = template;
  const sub = substitution(plugin.iparams, secureNames(plugin.manifest.iparams), context);
  const host = sub.render(schema.host, 'host');
  if (!HOST_RE.test(host)) throw new PlatformFailure(400, `template \`${name}\` renders a host that is not a host name; check its iparams and context`);
  const url = new URL(`${schema.protocol}://${host}`);
  // A query written into the path itself stays one; a `?` or `#` that a value brings is escaped.
  const [pathPart, ...queryPart] = schema.path.split('?');
  const path = sub.render(pathPart!, 'path');
  url.pathname = path.startsWith('/') ? path : `/${path}`;
  if (queryPart.length > 0) url.search = sub.render(queryPart.join('?'), 'query');
  for (const [key, value] of Object.entries(schema.query)) url.searchParams.append(key, sub.render(value, 'query'));
  // FDK lets serverless code add query parameters at run time, literally (the sample apps do).
  if (isObject(args.query)) for (const [key, value] of Object.entries(args.query)) url.searchParams.set(key, String(value));
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(schema.headers)) headers[key] = headerValue(key, sub.render(value, 'headers'));
  const body = args.body === undefined || args.body === null ? undefined : typeof args.body === 'string' ? args.body : JSON.stringify(args.body);
  // The template's host is the app's declaration, one chosen at run time from context too:
  // FDK lets serverless code substitute the host from context. The egress policy still
  // applies (no private, loopback or link-local addresses).
  const extraHosts = [url.host];
  return {
    url: url.href, method: schema.method, headers, ...(body === undefined ? {} : { body }), extraHosts,
    maxAttempts: template.options.maxAttempts, retryDelay: template.options.retryDelay, parse: false, what: `template ${name}`,
  };
}

// ---- $request.get/post/put/patch/delete(url, options)

function fromLegacy(call: OpCall): Prepared {
  const { args, plugin } = call;
  const method = String(args.method ?? '').toUpperCase();
  if (!METHODS.has(method)) throw new PlatformFailure(400, `$request has no method \`${method.toLowerCase().slice(0, 20)}\`; use get, post, put, patch or delete`);
  const options = isObject(args.options) ? args.options : {};
  if (options.isOAuth === true) throw new PlatformFailure(400, 'OAuth requests (isOAuth) are not supported by plughost; put the token in an iparam and the header');
  // Legacy apps may use any iparam, secure ones too, in the URL, header values and body.
  const sub = substitution(plugin.iparams, new Set(), undefined);
  const url = sub.render(String(args.url ?? ''), 'url');
  if (!URL.canParse(url)) throw new PlatformFailure(400, `\`${url.slice(0, 200)}\` is not an absolute URL`);
  const headers: Record<string, string> = {};
  if (isObject(options.headers)) for (const [key, value] of Object.entries(options.headers)) headers[key.toLowerCase()] = headerValue(key, sub.render(String(value), 'headers'));
  let body: string | Uint8Array | undefined;
  if (typeof options.body === 'string') body = sub.render(options.body, 'body');
  else if (options.json !== undefined) {
    body = JSON.stringify(renderDeep(options.json, sub));
    headers['content-type'] ??= 'application/json';
  } else if (isObject(options.formData)) {
    const boundary = `----plughost${randomUUID().replaceAll('-', '')}`;
    body = multipart(options.formData, boundary);
    headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
  }
  return {
    url, method, headers, ...(body === undefined ? {} : { body }), extraHosts: [],
    maxAttempts: bounded(options.maxAttempts, 1, MAX_ATTEMPTS, 1), retryDelay: bounded(options.retryDelay, 0, MAX_RETRY_DELAY_MS, 0),
    parse: options.json !== undefined, what: `${method} ${new URL(url).origin}`,
  };
}

function multipart(form: Record<string, unknown>, boundary: string): Uint8Array {
  const parts: Buffer[] = [];
  const quote = (s: string) => s.replace(/["\r\n]/g, (c) => encodeURIComponent(c));
  const add = (name: string, value: unknown) => {
    let head = `content-disposition: form-data; name="${quote(name)}"`;
    let content: string;
    if (isObject(value) && 'value' in value) {
      const opts = isObject(value.options) ? value.options : {};
      if (typeof opts.filename === 'string') head += `; filename="${quote(opts.filename)}"`;
      if (typeof opts.contentType === 'string') head += `\r\ncontent-type: ${opts.contentType.replace(/[\r\n]/g, '')}`;
      content = String(value.value);
    } else if (['string', 'number', 'boolean'].includes(typeof value)) content = String(value);
    else throw new PlatformFailure(400, `formData \`${name.slice(0, 64)}\` must be a string, number, boolean, an array of them or {value, options}`);
    parts.push(Buffer.from(`--${boundary}\r\n${head}\r\n\r\n${content}\r\n`, 'utf8'));
  };
  for (const [name, value] of Object.entries(form)) {
    if (Array.isArray(value)) for (const item of value) add(name, item);
    else add(name, value);
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, 'utf8'));
  return Buffer.concat(parts);
}

// ---- substitution: `<%= iparam.x %>`, `<%= context.x %>`, `<%= encode(…) %>`, `'literal'`, `a + b`

type Field = 'host' | 'path' | 'query' | 'headers' | 'url' | 'body';

function substitution(iparams: Record<string, unknown>, secure: Set<string>, context: Record<string, unknown> | undefined) {
  const value = (expr: string, field: Field): string => {
    const terms = splitTerms(expr);
    return terms.map((term) => {
      const encoded = /^encode\s*\(([\s\S]*)\)$/.exec(term);
      if (encoded) return Buffer.from(value(encoded[1]!, field), 'utf8').toString('base64');
      const literal = /^'([^']*)'$|^"([^"]*)"$/.exec(term);
      if (literal) return literal[1] ?? literal[2]!;
      const ref = /^(iparam|context)((?:\.[A-Za-z_$][\w$]*)+)$/.exec(term);
      if (!ref) throw new PlatformFailure(400, `cannot substitute \`<%= ${expr.slice(0, 100)} %>\`: only iparam.name, context.name, encode(…), quoted text and + are supported`);
      const [source, path] = [ref[1]!, ref[2]!.slice(1).split('.')];
      if (source === 'context') {
        if (context === undefined) throw new PlatformFailure(400, `\`<%= ${term} %>\`: $request.get/post/… has no context; only iparams are substituted`);
        return text(dig(context, path));
      }
      if (secure.has(path[0]!) && field !== 'headers') {
        throw new PlatformFailure(400, `secure iparam \`${path[0]}\` may only be used in header values, not in the ${field}`);
      }
      return text(dig(iparams, path));
    }).join('');
  };
  return {
    render(template: string, field: Field): string {
      return template.replace(/<%=([\s\S]*?)%>/g, (_all, expr: string) => value(expr.trim(), field));
    },
  };
}

/** `a + encode(b + ':x')` -> [`a`, `encode(b + ':x')`]: splits on `+` outside quotes and parentheses. */
function splitTerms(expr: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) { if (c === quote) quote = undefined; continue; }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '+' && depth === 0) {
      terms.push(expr.slice(start, i).trim());
      start = i + 1;
    }
  }
  terms.push(expr.slice(start).trim());
  return terms;
}

function dig(from: Record<string, unknown>, path: string[]): unknown {
  let at: unknown = from;
  for (const key of path) at = isObject(at) && Object.hasOwn(at, key) ? at[key] : undefined;
  return at;
}

/** As FDK's templates print values: nothing for undefined and null. */
function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function renderDeep(value: unknown, sub: ReturnType<typeof substitution>): unknown {
  if (typeof value === 'string') return sub.render(value, 'body');
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, sub));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, sub)]));
  return value;
}

// ---- sending, with retries

async function send(egress: EgressClient, gate: OutboundGate, call: OpCall, req: Prepared): Promise<unknown> {
  const { plugin, signal, deadline } = call;
  const permittedHosts = [...plugin.manifest.permissions.hosts, ...req.extraHosts];
  for (let attempt = 1; ; attempt++) {
    if (Date.now() >= deadline) throw new PlatformFailure(504, 'timeout error while processing the request: the run has no time left', { attempts: attempt - 1 });
    let response: EgressResponse;
    try {
      response = await gate(plugin.installationId, () => egress.request(
        { url: req.url, method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) },
        { permittedHosts, installationId: plugin.installationId, signal, timeoutMs: Math.max(1, deadline - Date.now()), keepBody: true },
      ));
    } catch (err) {
      const wait = attempt < req.maxAttempts && retryableFailure(err, signal) ? req.retryDelay : undefined;
      // `attempts` counts requests sent: a refused one (policy, budget) was not.
      const sent = isPlughostError(err, 'EGRESS_DENIED') || isPlughostError(err, 'PLUGIN_LIMIT') ? attempt - 1 : attempt;
      if (wait === undefined || Date.now() + wait >= deadline) return platformOutcome(err, sent);
      call.log('host', `$request ${req.what}: attempt ${attempt} of ${req.maxAttempts} failed (${(err as Error).message}); retrying in ${wait} ms`);
      await sleep(wait, undefined, { signal });
      continue;
    }
    const release = response.release ?? (() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    if (!ok && attempt < req.maxAttempts && (response.status === 429 || response.status >= 500)) {
      const wait = Math.max(req.retryDelay, retryAfterMs(response.headers['retry-after']) ?? 0);
      if (Date.now() + wait < deadline) {
        release(); // this answer is dropped: its bytes go back to the budget now
        call.log('host', `$request ${req.what}: attempt ${attempt} of ${req.maxAttempts} answered ${response.status}; retrying in ${wait} ms`);
        await sleep(wait, undefined, { signal });
        continue;
      }
    }
    const meta = ok
      ? { ok: true, status: response.status, headers: response.headers, parse: req.parse }
      : { ok: false, status: response.status, headers: response.headers, attempts: attempt, errorSource: 'APP', parse: req.parse };
    try {
      return new WithBody(meta, 'response', Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString('utf8'), release);
    } catch (err) {
      release();
      throw err;
    }
  }
}

/** Network failures and timeouts are retried, as FDK does; refusals, size limits and a cancelled run are not. */
function retryableFailure(err: unknown, signal: AbortSignal): boolean {
  if (signal.aborted || !isPlughostError(err, 'EGRESS_FAILED')) return false;
  const limit = (err.details as { limit?: string; rule?: string } | undefined);
  return limit?.limit === undefined || limit.limit === 'timeoutMs';
}

/** Retry-After as delta-seconds or an HTTP date, in ms from now. */
function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** FDK's error shape for what the platform refused or could not do. */
function platformOutcome(err: unknown, attempts: number): Record<string, unknown> {
  const failure = err instanceof PlatformFailure ? err : fromHostError(err);
  return {
    ok: false, status: failure.status, headers: {}, response: failure.message, message: failure.message,
    attempts, errorSource: 'PLATFORM', ...failure.extra,
  };
}

function fromHostError(err: unknown): PlatformFailure {
  if (!isPlughostError(err)) throw err; // a bug, not an outcome: the op fails as any op does
  const limit = (err.details as { limit?: string } | undefined)?.limit;
  const message = err.expose ? err.message : 'internal error';
  if (err.code === 'EGRESS_DENIED') return new PlatformFailure(403, message);
  if (err.code === 'PLUGIN_LIMIT') return new PlatformFailure(429, message, { code: err.code, ...(limit ? { limit } : {}) });
  if (limit === 'timeoutMs') return new PlatformFailure(504, `timeout error while processing the request: ${message}`);
  if (limit === 'maxRequestBytes') return new PlatformFailure(413, message);
  return new PlatformFailure(err.code === 'EGRESS_FAILED' ? 502 : err.status, message);
}

// ---- small helpers

/** A substituted value with a line break would split the header (node refuses it): refused here, before any attempt. */
function headerValue(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new PlatformFailure(400, `header \`${name.slice(0, 64)}\` has a line break or NUL after substitution`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function secureNames(specs: Record<string, { secure: boolean }>): Set<string> {
  return new Set(Object.entries(specs).filter(([, spec]) => spec.secure).map(([name]) => name));
}

function bounded(value: unknown, min: number, max: number, fallback: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
