// A route's response as the guest sent it, checked before the HTTP layer sees it.
import type { RouteResponse } from './types.ts';

/**
 * The route response the guest sent, checked as Node's HTTP layer would check it: a status or
 * header it would refuse (or send as a broken answer) throws an Error naming it, which fails
 * the run with PLUGIN_ERROR instead of a 500 INTERNAL from deep in the HTTP layer.
 */
export function toResponse(msg: Record<string, any>): RouteResponse {
  // No status: 200, as Express and Zengine answer. 1xx are interim answers, never a final one
  // (a client given one as final fails or waits for another).
  const status: unknown = msg.status === undefined ? 200 : msg.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new Error(`the plugin set an invalid response status ${JSON.stringify(status) ?? String(status)}: a route answers with an integer status from 200 to 599`);
  }
  const headers: Record<string, string> = {};
  const given = (msg.headers ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    const v = given[name];
    if (v === undefined || v === null) continue;
    const bad = (why: string) => new Error(`the plugin set an invalid response header ${JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name)}: ${why}`);
    // RFC 9110 token and field-value (obs-text allowed), exactly what Node's setHeader accepts.
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw bad('a header name is a non-empty token of letters, digits and !#$%&\'*+-.^_`|~');
    // A list is sent as one comma-separated value (RFC 9110 5.3); anything else but text is a mistake.
    const items = Array.isArray(v) ? v : [v];
    if (!items.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) {
      throw bad(`its value is ${Array.isArray(v) ? 'an array holding something other than text' : `a ${typeof v}`}; set a string`);
    }
    const value = items.map(String).join(', ');
    const at = /[^\t\x20-\x7e\x80-\xff]/u.exec(value);
    if (at) {
      const char = `U+${at[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      throw bad(`its value holds ${char} at index ${at.index}; a header value may hold tab, printable ASCII and U+0080 to U+00FF only (no CR, LF, NUL or other control characters)`);
    }
    headers[name] = value;
  }
  const body = typeof msg.bodyBase64 === 'string' ? Buffer.from(msg.bodyBase64, 'base64') : Buffer.from(String(msg.bodyText ?? ''), 'utf8');
  return { status, headers, body };
}
