// Scheduled-webhook signatures: `X-Plughost-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`
// under the webhook's secret key, plus Zengine's `X-Zengine-Webhook-Key`. A receiver (or a
// plugin route with `access: signed`) checks the HMAC and that `t` is recent.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_TOLERANCE_S = 300;

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** A well-formed signature header whose `t` is within the tolerance. */
export interface FreshSignature {
  t: number;
  /** The HMAC, 64 hex digits: what a replay repeats. */
  v1: string;
  /** Until when (ms) this signature can verify: a replay memory must keep it this long. */
  validUntil: number;
}

/** The parts of `header`, or undefined when it is malformed or its `t` is outside the tolerance of `nowMs`. */
export function readSignatureHeader(header: string | undefined, nowMs: number): FreshSignature | undefined {
  if (!header || header.length > 500) return undefined;
  const parts = new Map(header.split(',').map((p) => { const i = p.indexOf('='); return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const; }));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > SIGNATURE_TOLERANCE_S || !/^[0-9a-f]{64}$/.test(v1)) return undefined;
  return { t, v1, validUntil: (t + SIGNATURE_TOLERANCE_S) * 1000 };
}

/** True when `sig` is the HMAC of `body` under `secret`. */
export function signedWith(sig: FreshSignature, secret: string, body: string): boolean {
  const expected = createHmac('sha256', secret).update(`${sig.t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(sig.v1, 'hex'));
}
