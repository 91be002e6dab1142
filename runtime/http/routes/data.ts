// The workspace data API over REST: forms, folders and records, the same implementation
// `zn-http` reads from inside plugins.
import type { Context } from 'koa';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, queryObject } from '../body.ts';

export function dataRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, dataApi, store, options } = deps;
  const handle = async (ctx: Context) => {
    const ws = ctx.params.ws!;
    await store.workspaces.require(ws);
    const body = ctx.method === 'POST' || ctx.method === 'PUT' ? await jsonBody(ctx, options.http.maxBodyBytes) : undefined;
    const path = ctx.path.slice(ctx.path.indexOf('/forms'));
    const answer = await dataApi.handle(ws, { method: ctx.method, path, query: queryObject(new URLSearchParams(ctx.querystring)), body });
    ctx.status = answer.status;
    ctx.body = answer.body;
  };
  for (const path of ['/workspaces/:ws/forms', '/workspaces/:ws/forms/:formId', '/workspaces/:ws/forms/:formId/folders', '/workspaces/:ws/forms/:formId/records']) {
    router.get(path, workspaceAccess(auth), handle);
    router.post(path, workspaceAccess(auth), handle);
  }
  const record = '/workspaces/:ws/forms/:formId/records/:recordId';
  router.get(record, workspaceAccess(auth), handle);
  router.put(record, workspaceAccess(auth), handle);
  router.delete(record, workspaceAccess(auth), handle);
}
