// The `http` op: outbound requests from `fetch`, `requestify` and absolute-URL `zn-http`,
// carried out by the egress client under the plugin's permitted hosts and the host policy.
// Requests in flight are budgeted per installation and host-wide: past either, a request is
// refused at once with PLUGIN_LIMIT (it holds no socket), so one plugin cannot hold them all.
// Their body bytes are budgeted by the egress client, which reads them (egress/outbound-bytes.ts):
// the request names the installation, so they count against its budget and the host's.
import { isUtf8 } from 'node:buffer';
import type { EgressClient } from '../../egress/index.ts';
import { PlughostError } from '../../errors.ts';
import { WithBody, type Ops } from '../types.ts';

export interface OutboundBudgets { outboundPerInstallation: number; outboundHostWide: number }

const TEXTUAL = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))/i;

export function httpOps(egress: EgressClient, budgets: OutboundBudgets): Ops {
  const gate = outboundGate(egress, budgets);
  return {
    http: (call) => gate(call.plugin.installationId, () => request(egress, call)),
  };
}

/** Runs `send` counted as one request in flight for `installationId`, or refuses it with PLUGIN_LIMIT. */
export type OutboundGate = <T>(installationId: string, send: () => Promise<T>) => Promise<T>;

// One gate per egress client: every op that sends through it (`http`, Freshworks' `$request`)
// counts against the same budgets, so a plugin cannot double its share by mixing them.
const gates = new WeakMap<EgressClient, OutboundGate>();

export function outboundGate(egress: EgressClient, budgets: OutboundBudgets): OutboundGate {
  const known = gates.get(egress);
  if (known) return known;
  const inFlight = new Map<string, number>();
  let total = 0;
  const refuse = (limit: keyof OutboundBudgets, count: number, whose: string) => new PlughostError('PLUGIN_LIMIT',
    `${count} outbound requests are already in flight ${whose} (limit ${limit}); await some before starting more`, { details: { limit } });
  const gate: OutboundGate = async (id, send) => {
    const mine = inFlight.get(id) ?? 0;
    if (mine >= budgets.outboundPerInstallation) throw refuse('outboundPerInstallation', mine, 'for this installation');
    if (total >= budgets.outboundHostWide) throw refuse('outboundHostWide', total, 'on this host');
    inFlight.set(id, mine + 1);
    total++;
    try {
      return await send();
    } finally {
      total--;
      const left = inFlight.get(id)! - 1;
      if (left === 0) inFlight.delete(id);
      else inFlight.set(id, left);
    }
  };
  gates.set(egress, gate);
  return gate;
}

async function request(egress: EgressClient, { args, plugin, signal, deadline }: Parameters<Ops[string]>[0]) {
  const body = typeof args.bodyBase64 === 'string' ? Buffer.from(args.bodyBase64, 'base64')
    : typeof args.bodyText === 'string' ? args.bodyText : undefined;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((args.headers ?? {}) as Record<string, unknown>)) headers[k] = String(v);
  const redirect = args.redirect === 'manual' || args.redirect === 'error' ? args.redirect : 'follow';
  const response = await egress.request(
    { url: String(args.url), method: String(args.method ?? 'GET'), headers, ...(body === undefined ? {} : { body }) },
    { permittedHosts: plugin.manifest.permissions.hosts, installationId: plugin.installationId, signal, redirect, timeoutMs: Math.max(1, deadline - Date.now()), keepBody: true },
  );
  // The body's bytes stay counted until it is in the isolate (WithBody.release, after delivery).
  const release = response.release ?? (() => undefined);
  const type = response.headers['content-type'] ?? '';
  // A view of the body, not a copy: a large response is held once, plus the text sent to the plugin.
  const bytes = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength);
  const textual = TEXTUAL.test(type) || (type === '' && isUtf8(bytes));
  const meta = { status: response.status, statusText: response.statusText, headers: response.headers, url: response.url, redirected: response.redirected };
  try {
    return textual ? new WithBody(meta, 'text', bytes.toString('utf8'), release) : new WithBody(meta, 'base64', bytes.toString('base64'), release);
  } catch (err) {
    release();
    throw err;
  }
}
