// The `http` op: outbound requests from `fetch`, `requestify` and absolute-URL `zn-http`,
// carried out by the egress client under the plugin's permitted hosts and the host policy.
import type { EgressClient } from '../../egress/index.ts';
import type { Ops } from '../types.ts';

const TEXTUAL = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))/i;

export function httpOps(egress: EgressClient): Ops {
  return {
    async http({ args, plugin, signal, deadline }) {
      const body = typeof args.bodyBase64 === 'string' ? Buffer.from(args.bodyBase64, 'base64')
        : typeof args.bodyText === 'string' ? args.bodyText : undefined;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries((args.headers ?? {}) as Record<string, unknown>)) headers[k] = String(v);
      const redirect = args.redirect === 'manual' || args.redirect === 'error' ? args.redirect : 'follow';
      const response = await egress.request(
        { url: String(args.url), method: String(args.method ?? 'GET'), headers, ...(body === undefined ? {} : { body }) },
        { permittedHosts: plugin.manifest.permissions.hosts, signal, redirect, timeoutMs: Math.max(1, deadline - Date.now()) },
      );
      const type = response.headers['content-type'] ?? '';
      const bytes = Buffer.from(response.body);
      const textual = TEXTUAL.test(type) || (type === '' && isUtf8(bytes));
      return {
        status: response.status, statusText: response.statusText, headers: response.headers, url: response.url,
        redirected: response.redirected, ...(textual ? { text: bytes.toString('utf8') } : { base64: bytes.toString('base64') }),
      };
    },
  };
}

function isUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}
