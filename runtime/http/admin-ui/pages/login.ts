// Sign-in with a workspace or operator token (a plain form POST) and sign-out.
import type { Context } from 'koa';
import type { Principal } from '../../../auth.ts';
import type { UiDeps, UiRouter } from '../context.ts';
import { pageContext, seeOther, sendPage } from '../context.ts';
import { html, path } from '../html.ts';
import { errorBox, page } from '../layout.ts';

export const homeOf = (p: Principal) => (p.kind === 'workspace' ? path`/admin/workspaces/${p.workspaceId}` : '/admin/workspaces');

export function loginRoutes(router: UiRouter, deps: UiDeps) {
  const { sessions, auth } = deps;

  const loginPage = async (ctx: Context, error?: string, status = 200) => {
    const csrf = await sessions.loginCsrf(ctx);
    const body = html`${error ? errorBox(error) : ''}<section class="card">
<form method="post" action="/admin/login">
<input type="hidden" name="_login_csrf" value="${csrf}">
<label for="token">Operator or workspace token</label>
<input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
<p class="hint">The operator token manages every workspace; a workspace token manages its own workspace.</p>
<button type="submit">Sign in</button>
</form></section>`;
    sendPage(ctx, page({ ...pageContext(ctx), principal: undefined }, 'Sign in', body), status);
  };

  router.get('/', (ctx) => seeOther(ctx, ctx.state.principal ? homeOf(ctx.state.principal) : '/admin/login'));
  router.get('/login', async (ctx) => {
    if (ctx.state.principal) return seeOther(ctx, homeOf(ctx.state.principal));
    await loginPage(ctx);
  });
  router.post('/login', async (ctx) => {
    if (!(await sessions.loginCsrfOk(ctx, ctx.state.form.get('_login_csrf')))) {
      return loginPage(ctx, 'The sign-in form was out of date; it has been renewed, so sign in again.', 403);
    }
    const principal = await auth.principalOf(ctx.state.form.get('token')?.trim() || undefined);
    if (!principal) return loginPage(ctx, 'That token is not valid on this host.', 401);
    await sessions.issue(ctx, principal);
    seeOther(ctx, homeOf(principal));
  });
  router.post('/logout', async (ctx) => {
    sessions.signOut(ctx);
    await sessions.flash(ctx, { kind: 'notice', text: 'Signed out.' });
    seeOther(ctx, '/admin/login');
  });
}
