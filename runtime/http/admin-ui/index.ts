// The server-rendered admin UI at /admin: plain HTML forms, post/redirect/get, no script.
// Order per request: security headers; for a POST the Origin/Referer check and the form body;
// the session; sign-in required (except the sign-in page); the session's CSRF token on every
// POST; then the page. Errors become an HTML page with the PlughostError's message.
import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { PlughostError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { storeFailure } from '../../store/dialect.ts';
import type { ApiDeps } from '../api-context.ts';
import { mediaType, readRaw } from '../body.ts';
import { pageContext, readableError, seeOther, sendPage, type UiDeps, type UiState } from './context.ts';
import { html } from './html.ts';
import { errorBox, page, STYLE_HASH } from './layout.ts';
import { installRoutes } from './pages/install.ts';
import { installationRoutes } from './pages/installations.ts';
import { loginRoutes } from './pages/login.ts';
import { queueRoutes } from './pages/queues.ts';
import { runPageRoutes } from './pages/run.ts';
import { runRoutes } from './pages/runs.ts';
import { scheduleRoutes } from './pages/schedules.ts';
import { tokenRoutes } from './pages/tokens.ts';
import { webhookRoutes } from './pages/webhook.ts';
import { workspaceRoutes } from './pages/workspaces.ts';
import { createSessions, sameOrigin } from './session.ts';

const CSP = `default-src 'none'; style-src '${STYLE_HASH}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

function refuse(ctx: Context, status: number, title: string, message: string): void {
  sendPage(ctx, page(pageContext(ctx), title, html`${errorBox(message)}<p><a href="/admin">Back to the admin pages</a></p>`), status);
}

function decodedPath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

async function readForm(ctx: Context, limit: number): Promise<URLSearchParams> {
  const type = mediaType(ctx);
  if (type !== undefined && type !== 'application/x-www-form-urlencoded') {
    throw new PlughostError('UNSUPPORTED_MEDIA_TYPE', `admin forms are sent as application/x-www-form-urlencoded, not ${type}`);
  }
  return new URLSearchParams((await readRaw(ctx, limit)).toString('utf8'));
}

export function adminUi(apiDeps: ApiDeps & { log: Logger }): Middleware {
  const deps: UiDeps = { ...apiDeps, sessions: createSessions(apiDeps) };
  const router = new Router<UiState>({ prefix: '/admin' });
  loginRoutes(router, deps);
  workspaceRoutes(router, deps);
  installationRoutes(router, deps);
  installRoutes(router, deps);
  scheduleRoutes(router, deps);
  webhookRoutes(router, deps);
  runRoutes(router, deps);
  runPageRoutes(router, deps);
  queueRoutes(router, deps);
  tokenRoutes(router, deps);
  const routes = router.routes();

  const handle = async (ctx: Context) => {
    ctx.state.form = new URLSearchParams();
    if (ctx.method === 'POST') {
      if (!sameOrigin(ctx)) return refuse(ctx, 403, 'Refused', 'This form was not sent from this host\'s admin pages (the Origin check failed), so nothing was changed.');
      ctx.state.form = await readForm(ctx, deps.options.http.maxBodyBytes);
    }
    const signedIn = await deps.sessions.read(ctx);
    if (signedIn) Object.assign(ctx.state, signedIn);
    const isLogin = ctx.path === '/admin/login';
    if (!signedIn && !isLogin) return seeOther(ctx, '/admin/login');
    if (signedIn && ctx.method === 'POST' && !isLogin && !deps.sessions.csrfOk(signedIn.session, ctx.state.form.get('_csrf'))) {
      return refuse(ctx, 403, 'Refused', 'The form\'s security token is missing or out of date, so nothing was changed. Reload the page and try again.');
    }
    if (ctx.method === 'GET') ctx.state.flash = await deps.sessions.takeFlash(ctx);
    await routes(ctx as never, async () => {});
    if (ctx.body === undefined && ctx.status === 404) refuse(ctx, 404, 'Not found', `There is no admin page at ${decodedPath(ctx.path)}.`);
  };

  return async (ctx: Context, next: Next) => {
    if (ctx.path !== '/admin' && !ctx.path.startsWith('/admin/')) return next();
    ctx.set('content-security-policy', CSP);
    ctx.set('x-frame-options', 'DENY');
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('referrer-policy', 'same-origin');
    ctx.set('cache-control', 'no-store');
    try {
      await handle(ctx);
    } catch (caught) {
      let err = caught;
      err = storeFailure(err) ?? err;
      const message = readableError(err);
      const status = err instanceof PlughostError ? err.status : 500;
      if (message === undefined) deps.log.error({ err: (err as { cause?: unknown }).cause ?? err, path: ctx.path }, 'admin UI error');
      if (status === 413) ctx.set('connection', 'close');
      const title = status === 403 ? 'Forbidden' : status === 404 ? 'Not found' : status >= 500 ? 'Something went wrong' : 'Cannot do that';
      refuse(ctx, status, title, message === undefined ? 'internal error; the host\'s log has the cause' : `${(err as PlughostError).code}: ${message}`);
    }
  };
}
