// Installations of plugins in a workspace: install, list, read, change, uninstall.
import { z } from 'zod';
import { parsePage } from '../../store/page.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, validate } from '../body.ts';

const iparams = z.record(z.string().max(100), z.unknown());
const installInput = z.object({
  plugin: z.string().min(1).max(64),
  version: z.string().min(1).max(64).optional(),
  iparams: iparams.optional(),
  active: z.boolean().optional(),
}).strict();
const changeInput = z.object({
  version: z.string().min(1).max(64).optional(),
  iparams: iparams.optional(),
  active: z.boolean().optional(),
}).strict();

export function installationRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, installations, store, options } = deps;
  const base = '/workspaces/:ws/installations';
  router.post(base, workspaceAccess(auth), async (ctx) => {
    const input = validate(installInput, await jsonBody(ctx, options.http.maxBodyBytes));
    ctx.status = 201;
    ctx.body = await installations.install(ctx.params.ws!, input);
  });
  router.get(base, workspaceAccess(auth), async (ctx) => {
    await store.workspaces.require(ctx.params.ws!);
    ctx.body = await installations.list(ctx.params.ws!, parsePage(ctx.query));
  });
  router.get(`${base}/:id`, workspaceAccess(auth), async (ctx) => {
    const installation = await store.installations.require(ctx.params.ws!, ctx.params.id!);
    // `usage`: the installation's `$db` as its storage quota counts it (keys; bytes of key + JSON value).
    const usage = await store.kv.usage(installation.id);
    ctx.body = {
      ...(await installations.view(installation)),
      usage: { ...usage, limits: { kvKeys: options.limits.kvKeys, kvBytes: options.limits.kvBytes } },
    };
  });
  router.patch(`${base}/:id`, workspaceAccess(auth), async (ctx) => {
    const input = validate(changeInput, await jsonBody(ctx, options.http.maxBodyBytes));
    ctx.body = await installations.change(ctx.params.ws!, ctx.params.id!, input);
  });
  router.delete(`${base}/:id`, workspaceAccess(auth), async (ctx) => {
    await installations.uninstall(ctx.params.ws!, ctx.params.id!);
    ctx.status = 204;
  });
}
