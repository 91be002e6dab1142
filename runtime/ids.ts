// Identifiers the host generates. Time-ordered (ms timestamp, then randomness) so that
// sorting by id gives creation order on both stores, which install order and run history use.
import { randomBytes } from 'node:crypto';

let lastMs = 0;
let counter = 0;

export function newId(prefix: string, nowMs = Date.now()): string {
  // A per-process counter keeps ids made in the same millisecond in creation order.
  if (nowMs === lastMs) counter++;
  else { lastMs = nowMs; counter = 0; }
  const time = nowMs.toString(36).padStart(9, '0');
  const seq = counter.toString(36).padStart(3, '0');
  return `${prefix}_${time}${seq}${randomBytes(5).toString('hex')}`;
}

export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}
