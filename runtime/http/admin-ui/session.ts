// Admin UI sessions, CSRF and flash messages. The session cookie holds no token: only the
// token's id, an expiry, a random nonce and an HMAC over them under a key derived (HKDF) from
// the host's secret key, so any node of a cluster can check it and nothing is stored. The
// CSRF token of a session is an HMAC of its nonce; the sign-in form gets one from a short-lived
// nonce cookie. Every POST must also come from this host's own pages (Origin, else Referer).
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { Auth, Principal } from '../../auth.ts';
import type { HostOptions } from '../../options.ts';
import { loadSecretKey } from '../../secrets.ts';
import type { Store } from '../../store/store.ts';

export const SESSION_COOKIE = 'plughost_admin';
const LOGIN_COOKIE = 'plughost_admin_login';
const FLASH_COOKIE = 'plughost_admin_flash';
export const SESSION_MS = 8 * 60 * 60 * 1000;
const LOGIN_MS = 60 * 60 * 1000;

export interface Session { tokenId: string; expiresAt: number; nonce: string; csrf: string }
export interface Flash { kind: 'notice' | 'error'; text: string }

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url').toString('utf8');

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** True when a POST comes from this host's own pages: same host in Origin (or Referer), and not a cross-site fetch. */
export function sameOrigin(ctx: Context): boolean {
  const fetchSite = ctx.get('sec-fetch-site');
  if (fetchSite && fetchSite !== 'same-origin') return false;
  const source = ctx.get('origin') || ctx.get('referer');
  if (!source || source === 'null' || !ctx.host) return false;
  try {
    // The host, not the scheme: behind a TLS-terminating proxy this process sees http.
    return new URL(source).host === ctx.host;
  } catch {
    return false;
  }
}

export function createSessions(deps: { store: Store; options: HostOptions; auth: Auth }) {
  let key: Promise<Buffer> | undefined;
  const keyOf = () => {
    key ??= loadSecretKey(deps.store, deps.options.dataDir, deps.options.secretKey)
      .then((secret) => Buffer.from(hkdfSync('sha256', secret, 'plughost', 'admin-ui session v1', 32)));
    key.catch(() => { key = undefined; });
    return key;
  };
  const mac = async (...parts: string[]) => createHmac('sha256', await keyOf()).update(parts.join('\n')).digest('base64url');
  const cookieOptions = (ctx: Context, maxAge: number) => ({
    httpOnly: true, sameSite: 'strict' as const, path: '/admin', secure: ctx.secure, maxAge, overwrite: true,
  });
  const clearCookie = (ctx: Context, name: string) => ctx.cookies.set(name, '', { ...cookieOptions(ctx, 0), expires: new Date(0) });

  return {
    /** Signs in: a new session for the principal's token. */
    async issue(ctx: Context, principal: Principal): Promise<void> {
      const expiresAt = Date.now() + SESSION_MS;
      const nonce = randomBytes(16).toString('base64url');
      const value = `${principal.tokenId}.${expiresAt}.${nonce}`;
      ctx.cookies.set(SESSION_COOKIE, `${value}.${await mac('session', value)}`, cookieOptions(ctx, SESSION_MS));
      clearCookie(ctx, LOGIN_COOKIE);
    },

    /** The signed-in session and its principal; undefined when absent, forged, expired or its token is gone. */
    async read(ctx: Context): Promise<{ session: Session; principal: Principal } | undefined> {
      const raw = ctx.cookies.get(SESSION_COOKIE);
      const m = raw ? /^([A-Za-z0-9_-]{1,100})\.(\d{1,15})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(raw) : null;
      if (!m) return undefined;
      const [, tokenId, expires, nonce, given] = m as unknown as [string, string, string, string, string];
      if (!equal(await mac('session', `${tokenId}.${expires}.${nonce}`), given)) return undefined;
      const expiresAt = Number(expires);
      if (expiresAt <= Date.now()) return undefined;
      const principal = await deps.auth.principalById(tokenId);
      if (!principal) return undefined;
      return { session: { tokenId, expiresAt, nonce, csrf: await mac('csrf', nonce) }, principal };
    },

    signOut(ctx: Context): void {
      clearCookie(ctx, SESSION_COOKIE);
    },

    csrfOk(session: Session, given: unknown): boolean {
      return typeof given === 'string' && equal(session.csrf, given);
    },

    /** The CSRF token for the sign-in form, from a nonce cookie made here when there is none. */
    async loginCsrf(ctx: Context): Promise<string> {
      let nonce = ctx.cookies.get(LOGIN_COOKIE);
      if (!nonce || !/^[A-Za-z0-9_-]{22}$/.test(nonce)) {
        nonce = randomBytes(16).toString('base64url');
        ctx.cookies.set(LOGIN_COOKIE, nonce, cookieOptions(ctx, LOGIN_MS));
      }
      return mac('login', nonce);
    },

    async loginCsrfOk(ctx: Context, given: unknown): Promise<boolean> {
      const nonce = ctx.cookies.get(LOGIN_COOKIE);
      return typeof given === 'string' && !!nonce && /^[A-Za-z0-9_-]{22}$/.test(nonce) && equal(await mac('login', nonce), given);
    },

    /** A one-time message for the next page (post/redirect/get). */
    async flash(ctx: Context, flash: Flash): Promise<void> {
      const value = `${flash.kind === 'error' ? 'e' : 'n'}.${b64(flash.text.slice(0, 2000))}`;
      ctx.cookies.set(FLASH_COOKIE, `${value}.${await mac('flash', value)}`, cookieOptions(ctx, 60_000));
    },

    /** The pending flash message, cleared as it is read. */
    async takeFlash(ctx: Context): Promise<Flash | undefined> {
      const raw = ctx.cookies.get(FLASH_COOKIE);
      if (!raw) return undefined;
      clearCookie(ctx, FLASH_COOKIE);
      const m = /^([en])\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{43})$/.exec(raw);
      if (!m || !equal(await mac('flash', `${m[1]}.${m[2]}`), m[3]!)) return undefined;
      return { kind: m[1] === 'e' ? 'error' : 'notice', text: unb64(m[2]!) };
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;
