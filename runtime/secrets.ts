// Secrets at rest: admin tokens are kept as SHA-256 hashes and compared in constant time;
// secure iparams are sealed with AES-256-GCM under a key kept in the data directory
// (`secret.key`, mode 0600), or given as PLUGHOST_SECRET_KEY so a cluster shares one.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PlughostError } from './errors.ts';
import type { Store } from './store/store.ts';

export interface Secrets {
  seal(value: unknown): string;
  open(sealed: string): unknown;
  /** A keyed digest of `text` (HMAC-SHA256, base64url): unguessable without the host's key, the same on every node. */
  mac(text: string): string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time equality of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/**
 * The key that seals secure iparams: `keyHex` when the operator gives one; else, on
 * PostgreSQL, one created once and kept in the database, so every process of a cluster shares
 * it with nothing to configure (give PLUGHOST_SECRET_KEY to keep the key outside the
 * database); else `<dataDir>/secret.key`, created on first start.
 */
export async function loadSecretKey(store: Store, dataDir: string, keyHex?: string): Promise<Buffer> {
  if (keyHex) return Buffer.from(keyHex, 'hex');
  if (store.dialect === 'postgres') {
    return Buffer.from(await store.settings.setIfAbsent('secrets.key', randomBytes(32).toString('hex')), 'hex');
  }
  const file = path.join(dataDir, 'secret.key');
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  if (key.length !== 32) throw new PlughostError('INTERNAL', `${file} is not a 32-byte hex key; restore it from backup`);
  return key;
}

export function createSecrets(key: Buffer): Secrets {
  return {
    mac: (text) => createHmac('sha256', key).update(text).digest('base64url'),
    seal(value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
    },
    open(sealed) {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || body === undefined) throw new PlughostError('INTERNAL', 'a sealed value is malformed');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      try {
        return JSON.parse(Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8'));
      } catch (err) {
        throw new PlughostError('INTERNAL', 'a sealed value cannot be opened with this host\'s secret key', { cause: err });
      }
    },
  };
}
