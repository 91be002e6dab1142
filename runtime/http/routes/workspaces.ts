// Workspaces and workspace tokens.
import { parsePage } from '../../store/page.ts';
import type { Workspace } from '../../store/workspaces.ts';
import { workspaceChange, workspaceInput } from '../../workspaces.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, validate } from '../body.ts';

const view = (ws: Workspace) => ({ id: ws.id, name: ws.name, timezone: ws.timezone, domain: ws.domain, region: ws.region, config: ws.config, createdAt: new Date(ws.createdAt).toISOString() });

export function workspaceRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, store, workspaces, options } = deps;
  router.post('/workspaces', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    const input = validate(workspaceInput, await jsonBody(ctx, options.http.maxBodyBytes));
    ctx.status = 201;
    ctx.body = await workspaces.create(input);
  });
  router.get('/workspaces', async (ctx) => {
    const p = ctx.state.principal;
    const page = await store.workspaces.list(parsePage(ctx.query), p.kind === 'workspace' ? p.workspaceId : undefined);
    ctx.body = { data: page.data.map(view), nextCursor: page.nextCursor };
  });
  router.get('/workspaces/:ws', workspaceAccess(auth), async (ctx) => {
    ctx.body = view(await store.workspaces.require(ctx.params.ws!));
  });
  // The name, what the host product says of the account (domain, region; null clears one) and the config data (replaced whole).
  router.patch('/workspaces/:ws', workspaceAccess(auth), async (ctx) => {
    const input = validate(workspaceChange, await jsonBody(ctx, options.http.maxBodyBytes));
    await store.workspaces.require(ctx.params.ws!);
    ctx.body = view(await store.workspaces.update(ctx.params.ws!, input));
    deps.installations.forgetWorkspace(ctx.params.ws!);
  });
  router.post('/workspaces/:ws/tokens', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    await jsonBody(ctx, options.http.maxBodyBytes);
    ctx.status = 201;
    ctx.body = { token: await auth.createWorkspaceToken(ctx.params.ws!), workspaceId: ctx.params.ws };
  });
}
