// API keys for Haplo `/api` respond roots: make one for a path under /api/ (the key is in that
// answer only, never again; runtime/haplo/api-keys.ts makes it, as the admin UI does), list a
// workspace's keys (without key or hash), revoke one. Each act is audited.
// runtime/http/haplo-responds.ts is where a key opens its paths.
import type { Principal } from '../../auth.ts';
import { PlughostError } from '../../errors.ts';
import { createApiKey } from '../../haplo/api-keys.ts';
import type { ApiKey } from '../../store/api-keys.ts';
import { parsePage } from '../../store/page.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody } from '../body.ts';

const actor = (p: Principal) => `${p.kind}:${p.tokenId}`;
const view = (k: ApiKey) => ({
  id: k.id, name: k.name, path: k.pathPrefix, createdAt: new Date(k.createdAt).toISOString(), revokedAt: k.revokedAt === null ? null : new Date(k.revokedAt).toISOString(),
});

export function apiKeyRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, store, clock, options } = deps;
  const base = '/workspaces/:ws/api-keys';
  const guard = workspaceAccess(auth);

  router.post(base, guard, async (ctx) => {
    const ws = ctx.params.ws!;
    await store.workspaces.require(ws);
    const made = await createApiKey({ store, now: () => clock.now() }, ws, await jsonBody(ctx, options.http.maxBodyBytes), ctx.state.principal);
    ctx.status = 201;
    ctx.body = { ...made, createdAt: new Date(made.createdAt).toISOString() };
  });
  router.get(base, guard, async (ctx) => {
    await store.workspaces.require(ctx.params.ws!);
    const page = await store.apiKeys.list(ctx.params.ws!, parsePage(ctx.query));
    ctx.body = { data: page.data.map(view), nextCursor: page.nextCursor };
  });
  router.delete(`${base}/:id`, guard, async (ctx) => {
    const ws = ctx.params.ws!;
    const now = clock.now();
    if (!(await store.apiKeys.revoke(ws, ctx.params.id!, now))) throw new PlughostError('API_KEY_NOT_FOUND', `workspace \`${ws}\` has no API key \`${ctx.params.id}\`; GET /api/v1/workspaces/${ws}/api-keys lists them`);
    await store.audit.record(ws, actor(ctx.state.principal), 'revoke-api-key', { id: ctx.params.id }, now);
    ctx.status = 204;
  });
}
