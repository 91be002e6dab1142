// Workspaces and workspace tokens.
import type { Principal } from '../../auth.ts';
import { hashToken } from '../../secrets.ts';
import { parsePage } from '../../store/page.ts';
import type { Workspace } from '../../store/workspaces.ts';
import { workspaceChange, workspaceInput } from '../../workspaces.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, validate } from '../body.ts';

const view = (ws: Workspace) => ({ id: ws.id, name: ws.name, timezone: ws.timezone, domain: ws.domain, region: ws.region, config: ws.config, createdAt: new Date(ws.createdAt).toISOString() });

export function workspaceRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, store, workspaces, options, clock } = deps;
  const audit = (ws: string, p: Principal, action: string, detail: Record<string, unknown>) => store.audit.record(ws, `${p.kind}:${p.tokenId}`, action, detail, clock.now());
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
  // Workspace tokens: the operator makes them (the token is in that answer only, with the id that
  // revokes it); the operator or the workspace lists them (ids and times, never a token) and
  // revokes them, which is audited as the admin UI's revoke is.
  router.post('/workspaces/:ws/tokens', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    await jsonBody(ctx, options.http.maxBodyBytes);
    const token = await auth.createWorkspaceToken(ctx.params.ws!);
    const id = (await store.tokens.findByHash(hashToken(token)))!.id;
    await audit(ctx.params.ws!, ctx.state.principal, 'create-token', { id });
    ctx.status = 201;
    ctx.body = { token, id, workspaceId: ctx.params.ws };
  });
  router.get('/workspaces/:ws/tokens', workspaceAccess(auth), async (ctx) => {
    const tokens = await auth.workspaceTokens(ctx.params.ws!);
    ctx.body = { data: tokens.map((t) => ({ id: t.id, createdAt: new Date(t.createdAt).toISOString() })), nextCursor: null };
  });
  router.delete('/workspaces/:ws/tokens/:id', workspaceAccess(auth), async (ctx) => {
    await auth.revokeWorkspaceToken(ctx.params.ws!, ctx.params.id!);
    await audit(ctx.params.ws!, ctx.state.principal, 'revoke-token', { id: ctx.params.id });
    ctx.status = 204;
  });
}
