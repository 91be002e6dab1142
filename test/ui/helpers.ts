// Helpers for the admin UI tests: Debian's Chromium through playwright-core (a fresh profile
// each launch), the screenshot folder, and a cookie-keeping HTTP client that signs in and
// posts forms as a browser would, for the checks a browser cannot make (forged requests).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** test-artifacts/ui/<store>/, made if missing. */
export const SCREENSHOTS = path.join(import.meta.dirname, '../../test-artifacts/ui', process.env.PLUGHOST_TEST_DATABASE_URL ? 'postgres' : 'sqlite');

export interface Browser { context: BrowserContext; page: Page; close(): Promise<void> }

export async function launchBrowser(): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 }, javaScriptEnabled: true,
  });
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context, page,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Signs in through the form (as a fresh visitor: cookies cleared first); resolves once the page after the redirect has loaded. */
export async function signInBrowser(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.context().clearCookies();
  await page.goto(`${baseUrl}/admin/login`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login')), page.click('button:has-text("Sign in")')]);
}

export interface FormResponse { status: number; location: string | null; text: string; setCookies: string[] }

/** An HTTP client with a cookie jar that speaks to the admin UI like a browser on its own pages. */
export class UiClient {
  readonly base: string;
  readonly cookies = new Map<string, string>();
  constructor(base: string) {
    this.base = base;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(res: Response): string[] {
    const set = res.headers.getSetCookie();
    for (const c of set) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return set;
  }

  async get(p: string): Promise<FormResponse> {
    const res = await fetch(this.base + p, { redirect: 'manual', headers: { cookie: this.cookieHeader() } });
    const setCookies = this.keep(res);
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), setCookies };
  }

  /** POSTs a urlencoded form; `headers` replace the defaults (Origin of this host). */
  async post(p: string, fields: Record<string, string>, headers: Record<string, string | undefined> = {}): Promise<FormResponse> {
    const all: Record<string, string> = { origin: this.base, 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader() };
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) delete all[k];
      else all[k] = v;
    }
    const res = await fetch(this.base + p, { method: 'POST', redirect: 'manual', headers: all, body: new URLSearchParams(fields).toString() });
    const setCookies = this.keep(res);
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), setCookies };
  }

  /** The session's CSRF token, read from a page's forms. */
  async csrf(p = '/admin/workspaces'): Promise<string> {
    const page = await this.get(p);
    const m = /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (!m) throw new Error(`no CSRF field on ${p} (status ${page.status})`);
    return m[1]!;
  }

  async signIn(token: string): Promise<FormResponse> {
    const login = await this.get('/admin/login');
    const m = /name="_login_csrf" value="([^"]+)"/.exec(login.text);
    if (!m) throw new Error(`no sign-in form (status ${login.status})`);
    return this.post('/admin/login', { _login_csrf: m[1]!, token });
  }
}

/** Where the UI tests keep their screenshots: $PLUGHOST_ARTIFACTS/plughost-ui, by default the checkout's test-artifacts/ (git-ignored, kept by CI). */
export const ARTIFACTS = path.join(process.env.PLUGHOST_ARTIFACTS ?? path.join(import.meta.dirname, '../../test-artifacts'), 'plughost-ui');

/** A full-page screenshot `<name>-<store>.png` under ARTIFACTS; prints its path and returns it. */
export async function artifact(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}-${process.env.PLUGHOST_TEST_DATABASE_URL ? 'postgres' : 'sqlite'}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  return file;
}

/** Clicks and waits for the page the click leads to (after any redirect) to load. */
export async function clickAndLoad(page: Page, target: Locator): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), target.click()]);
}

/** How many CSS pixels the page is wider than the viewport (0: no horizontal scrolling). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => {
    const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return root.scrollWidth - root.clientWidth;
  });
}
