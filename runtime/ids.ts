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
  return `${prefix}_${time}${seq}${randomHex(10)}`;
}

// Random bytes drawn from a pool: one system call per 4 KiB instead of one per id.
let pool = Buffer.alloc(0);
let offset = 0;
function randomHex(chars: number): string {
  const bytes = chars / 2;
  if (offset + bytes > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  offset += bytes;
  return pool.toString('hex', offset - bytes, offset);
}

export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}
