// Egress client: carries out a plugin's outbound HTTP request under the egress policy. It
// talks node:http/https directly (global fetch cannot pin an address) and connects to the
// address the policy vetted, so a DNS answer that changes between check and connect (DNS
// rebinding) cannot steer the request elsewhere. Every redirect hop is checked again.
// Bodies in flight count against the outbound byte budgets (outbound-bytes.ts): a request
// body when the request is accepted, a response body chunk by chunk as it is read.
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import type { Readable, Transform } from 'node:stream';
import { onAbort } from '../abort-fanout.ts';
import { PlughostError, isPlughostError } from '../errors.ts';
import { defaults } from '../options.ts';
import type { EgressPolicy, EgressTarget } from './egress-policy.ts';
import { createOutboundBytes, type Hold, type OutboundByteBudgets, type OutboundBytesStats } from './outbound-bytes.ts';

export interface EgressRequest { url: string; method?: string; headers?: Record<string, string>; body?: string | Uint8Array }
export interface EgressResponse {
  status: number;
  statusText: string;
  /** Lower-cased names; repeated headers joined with ', ' (set-cookie too). */
  headers: Record<string, string>;
  /** Decoded body: gzip, deflate and br are undone, and content-encoding/-length dropped then. */
  body: Uint8Array;
  /** The URL of the last hop as the plugin sees it (the original host, even when mapped). */
  url: string;
  redirected: boolean;
  /** With `keepBody`: gives the body's bytes back to the budgets (once; later calls do nothing). */
  release?: () => void;
}
export interface EgressLimits { maxResponseBytes: number; timeoutMs: number; maxRedirects: number; maxRequestBytes: number }
export interface EgressCallOptions {
  permittedHosts: readonly string[];
  /**
   * The installation whose byte budget the bodies count against (a plugin's own request);
   * without one (the host's own sends) they count against the host-wide budget only.
   */
  installationId?: string;
  /** Often a run's signal, shared by all its requests: the client keeps one listener on it, not one per request. */
  signal?: AbortSignal;
  redirect?: 'follow' | 'manual' | 'error';
  /** Overrides limits.timeoutMs for this call: the whole call, all hops and the body included. */
  timeoutMs?: number;
  /**
   * The caller holds the response body after the call (a plugin's, until it is delivered into
   * the isolate): its bytes stay counted until the caller calls the response's `release`.
   */
  keepBody?: boolean;
}
export interface EgressClient {
  request(req: EgressRequest, options: EgressCallOptions): Promise<EgressResponse>;
  /** Bytes of outbound bodies in flight now, and the most ever held at once. */
  stats(): OutboundBytesStats;
}

export const defaultEgressLimits: EgressLimits = {
  maxResponseBytes: 10 * 1024 * 1024,
  timeoutMs: 15_000,
  maxRedirects: 5,
  maxRequestBytes: 5 * 1024 * 1024,
};

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
// The client sets these itself; taken from a plugin they could smuggle a second request or
// reach another virtual host on a permitted address.
const droppedHeaders = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive',
  'upgrade', 'te', 'trailer', 'proxy-connection']);
// Dropped when a redirect leaves the origin, as fetch does, so a token never leaks to another site.
const credentialHeaders = ['authorization', 'cookie', 'proxy-authorization'];
const bodyHeaders = ['content-type', 'content-encoding', 'content-language', 'content-location'];

class TimeoutReason extends Error {
  override name = 'TimeoutError';
}

type Headers = Record<string, string>;

export function createEgressClient(options: { policy: EgressPolicy; limits?: Partial<EgressLimits>; budgets?: Partial<OutboundByteBudgets> }): EgressClient {
  const { policy } = options;
  const limits: EgressLimits = { ...defaultEgressLimits, ...options.limits };
  const bytes = createOutboundBytes({
    outboundBytesPerInstallation: options.budgets?.outboundBytesPerInstallation ?? defaults.limits.outboundBytesPerInstallation,
    outboundBytesHostWide: options.budgets?.outboundBytesHostWide ?? defaults.limits.outboundBytesHostWide,
  });

  async function run(req: EgressRequest, body: Uint8Array | undefined, call: EgressCallOptions, signal: AbortSignal, hold: Hold): Promise<EgressResponse> {
    let url = req.url;
    let method = (req.method ?? 'GET').toUpperCase();
    let payload = body;
    const headers: Headers = { accept: '*/*', 'user-agent': 'plughost' };
    for (const [name, value] of Object.entries(req.headers ?? {})) {
      if (!droppedHeaders.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
    }
    let previous: URL | undefined;
    for (let hop = 0; ; hop++) {
      const target = await checkHop(url, call.permittedHosts, signal, previous);
      if (previous && previous.origin !== target.originalUrl.origin) {
        for (const name of credentialHeaders) delete headers[name];
      }
      const res = await send(target, method, headers, payload, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (redirectStatuses.has(status) && location !== undefined && call.redirect !== 'manual') {
        res.destroy();
        const from = target.originalUrl.origin;
        if (call.redirect === 'error') {
          throw new PlughostError('EGRESS_FAILED', `${from} answered with a ${status} redirect and the request said redirect: 'error'`);
        }
        if (hop >= limits.maxRedirects) {
          throw new PlughostError('EGRESS_FAILED', `too many redirects (more than ${limits.maxRedirects}) starting at ${new URL(req.url).origin}`);
        }
        if (!URL.canParse(location, target.originalUrl.href)) {
          throw new PlughostError('EGRESS_FAILED', `${from} redirected to an invalid location`);
        }
        // fetch's rule: 303 turns anything but HEAD into GET; 301/302 do so for POST only.
        if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          payload = undefined;
          for (const name of bodyHeaders) delete headers[name];
        }
        previous = target.originalUrl;
        url = new URL(location, target.originalUrl).href;
        continue;
      }
      const decoded = hasBody(method, status) ? decoderFor(res.headers['content-encoding']) : undefined;
      const received = await readBody(res, decoded, limits.maxResponseBytes, signal, target.originalUrl.origin, hold);
      const out: Headers = {};
      for (const [name, values] of Object.entries(res.headersDistinct)) {
        if (values) out[name] = values.join(', ');
      }
      if (decoded) {
        delete out['content-encoding'];
        delete out['content-length'];
      }
      return { status, statusText: res.statusMessage ?? '', headers: out, body: received, url: target.originalUrl.href, redirected: hop > 0 };
    }
  }

  async function checkHop(url: string, permitted: readonly string[], signal: AbortSignal, previous: URL | undefined): Promise<EgressTarget> {
    try {
      return await abortable(policy.check(url, permitted), signal);
    } catch (err) {
      if (!previous || !isPlughostError(err)) throw err;
      throw new PlughostError(err.code, `redirect from ${previous.origin} refused: ${err.message}`, { cause: err, details: err.details });
    }
  }

  return {
    async request(req, call) {
      const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
      const size = body?.byteLength ?? 0;
      if (size > limits.maxRequestBytes) {
        throw new PlughostError('EGRESS_FAILED', `request body is ${size} bytes, over the ${limits.maxRequestBytes}-byte limit`,
          { details: { limit: 'maxRequestBytes' } });
      }
      // Refused at once when the body does not fit: nothing is sent, nothing held.
      const hold = bytes.open(call.installationId);
      hold.take(size, `request to ${originOf(req.url)} refused`);
      // A call may shorten the cap (a run's remaining time), never lengthen it.
      const timeoutMs = Math.min(call.timeoutMs ?? limits.timeoutMs, limits.timeoutMs);
      const controller = new AbortController();
      // An aborted request gives its bytes back at once, before its socket has even closed.
      controller.signal.addEventListener('abort', () => hold.release(), { once: true });
      const timer = setTimeout(() => controller.abort(new TimeoutReason(`timed out after ${timeoutMs} ms`)), timeoutMs);
      const stopWaiting = call.signal ? onAbort(call.signal, () => controller.abort(call.signal!.reason)) : undefined;
      let kept = false;
      try {
        const response = await run(req, body, call, controller.signal, hold);
        if (!call.keepBody) return response;
        kept = true;
        return { ...response, release: () => hold.release() };
      } catch (err) {
        throw classify(err, controller.signal, req.url, timeoutMs);
      } finally {
        if (!kept) hold.release();
        clearTimeout(timer);
        stopWaiting?.();
      }
    },
    stats: () => bytes.stats(),
  };
}

function originOf(url: string): string {
  return URL.canParse(url) ? new URL(url).origin : 'the target';
}

/** Messages name the origin only: paths and queries often carry tokens (webhook URLs, auth_token=). */
function classify(err: unknown, signal: AbortSignal, url: string, timeoutMs: number): PlughostError {
  if (isPlughostError(err) && err !== signal.reason) return err;
  const where = originOf(url);
  if (signal.aborted && signal.reason instanceof TimeoutReason) {
    return new PlughostError('EGRESS_FAILED', `request to ${where} timed out after ${timeoutMs} ms`,
      { cause: signal.reason, details: { limit: 'timeoutMs' } });
  }
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const cause = reason instanceof Error && reason.name === 'AbortError'
      ? reason : new DOMException('The operation was aborted', { name: 'AbortError', cause: reason });
    return new PlughostError('EGRESS_FAILED', `request to ${where} was aborted`, { cause });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new PlughostError('EGRESS_FAILED', `request to ${where} failed: ${message}`, { cause: err });
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function credentialsOf(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  return `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
}

function send(target: EgressTarget, method: string, headers: Headers, payload: Uint8Array | undefined,
  signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const url = target.connectUrl;
    // Hands node the vetted address instead of resolving again (not called for IP literals,
    // which are the vetted address themselves).
    const lookup: LookupFunction = (_hostname, opts, callback) => {
      if (opts.all) callback(null, [{ address: target.address, family: target.family }]);
      else callback(null, target.address, target.family);
    };
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const sendHeaders: Headers = { ...headers, host: url.host };
    if (payload !== undefined || !['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(method)) {
      sendHeaders['content-length'] = String(payload?.byteLength ?? 0);
    }
    const requestOptions: RequestOptions & { servername?: string } = {
      method, hostname, port: url.port || undefined, path: url.pathname + url.search, headers: sendHeaders,
      lookup, agent: false, auth: credentialsOf(target.originalUrl) ?? credentialsOf(url),
    };
    // SNI and certificate checks use the name, while the socket goes to the pinned address.
    if (url.protocol === 'https:' && isIP(hostname) === 0) requestOptions.servername = hostname;
    const req = (url.protocol === 'https:' ? https : http).request(requestOptions);
    const onAbort = (): void => { req.destroy(); };
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('close', () => signal.removeEventListener('abort', onAbort));
    req.on('error', reject);
    req.once('response', resolve);
    req.end(payload);
  });
}

function hasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304;
}

function decoderFor(encoding: string | undefined): Transform | undefined {
  // Sync flush, as fetch implementations do, so a body truncated or empty by the server still decodes.
  const flush = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip': case 'x-gzip': return zlib.createGunzip(flush);
    case 'deflate': return zlib.createInflate(flush);
    case 'br': return zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
    default: return undefined;
  }
}

/** Streams the body and stops as soon as it passes the limit (decoded size, so a zip bomb stops too). */
async function readBody(res: IncomingMessage, decoder: Transform | undefined, maxBytes: number, signal: AbortSignal,
  where: string, hold: Hold): Promise<Uint8Array> {
  const tooLarge = (): PlughostError => new PlughostError('EGRESS_FAILED',
    `response from ${where} is over the ${maxBytes}-byte limit`, { details: { limit: 'maxResponseBytes' } });
  if (!decoder && Number(res.headers['content-length']) > maxBytes) {
    res.destroy();
    throw tooLarge();
  }
  const source: Readable = decoder ? res.pipe(decoder) : res;
  if (decoder) res.on('error', (err) => decoder.destroy(err));
  const onAbort = (): void => { res.destroy(); decoder?.destroy(); };
  signal.addEventListener('abort', onAbort, { once: true });
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      signal.throwIfAborted(); // a chunk already buffered when the request was aborted is not kept
      total += buf.byteLength;
      if (total > maxBytes) throw tooLarge();
      hold.take(buf.byteLength, `response from ${where} cut off after ${total - buf.byteLength} bytes`);
      chunks.push(buf);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    res.destroy();
    decoder?.destroy();
  }
  // A Buffer is a Uint8Array: returned as is, the body is not copied once more.
  return Buffer.concat(chunks, total);
}
