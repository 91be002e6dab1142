// Scheduled-webhook signatures: `X-Plughost-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`
// under the webhook's secret key, plus Zengine's `X-Zengine-Webhook-Key`. A receiver (or a
// plugin route with `access: signed`) checks the HMAC and that `t` is recent.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_TOLERANCE_S = 300;

export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** True when `header` is a valid signature of `body` under `secret`, made within the tolerance of `nowMs`. */
export function verifySignatureHeader(header: string | undefined, secret: string, body: string, nowMs: number): boolean {
  if (!header || header.length > 500) return false;
  const parts = new Map(header.split(',').map((p) => { const i = p.indexOf('='); return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const; }));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > SIGNATURE_TOLERANCE_S || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
