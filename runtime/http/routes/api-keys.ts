// API keys for Haplo `/api` respond roots: make one for a path under /api/ (the key is in that
// answer only, never again), list a workspace's keys (without key or hash), revoke one. Each
// act is audited. runtime/http/haplo-responds.ts is where a key opens its paths.
import { z } from 'zod';
import type { Principal } from '../../auth.ts';
import { PlughostError } from '../../errors.ts';
import { newId, newToken } from '../../ids.ts';
import { hashToken } from '../../secrets.ts';
import type { ApiKey } from '../../store/api-keys.ts';
import { parsePage } from '../../store/page.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, validate } from '../body.ts';

/** `/api/` and one or more path segments; none empty, none starting with a dot (no `.` or `..`). */
const API_PATH = /^\/api(\/[A-Za-z0-9_:~-][A-Za-z0-9_.:~-]*)+$/;

const createInput = z.object({
  name: z.string().trim().min(1).max(200),
  path: z.string().max(200).regex(API_PATH, 'must be a path under /api/ such as "/api/haplo-integration-messages", without a trailing slash, "." or ".." segments'),
}).strict();

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
    const input = validate(createInput, await jsonBody(ctx, options.http.maxBodyBytes));
    const key = newToken('pha');
    const now = clock.now();
    const id = newId('ak');
    await store.apiKeys.create({ id, workspaceId: ws, name: input.name, pathPrefix: input.path, keyHash: hashToken(key), createdAt: now });
    await store.audit.record(ws, actor(ctx.state.principal), 'create-api-key', { id, name: input.name, path: input.path }, now);
    ctx.status = 201;
    ctx.body = { id, name: input.name, path: input.path, key, createdAt: new Date(now).toISOString() };
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
