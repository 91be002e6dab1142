// Haplo's poll API, at Haplo's own path under the workspace:
// GET|POST /workspaces/:ws/api/haplo-integration-messages/poll/:group/fetch and …/mark.
// A poller authenticates with HTTP Basic `haplo:<key>` (or a bearer key); a key opens one
// queue's poll API and nothing else. A Haplo-format plugin of the workspace that declares a
// `respond` root holding the path serves it instead (P.respond, with API keys).
import type { Middleware } from 'koa';
import { PlughostError } from '../errors.ts';
import type { IntegrationMessages } from '../haplo/integration-messages.ts';
import type { Installations } from '../installations.ts';
import { hashToken, sameHash } from '../secrets.ts';
import type { Store } from '../store/store.ts';
import { anyBody } from './body.ts';

const PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})\/api\/haplo-integration-messages\/poll\/([A-Za-z0-9_.:-]{1,100})\/(fetch|mark)$/;

/** The key of an `Authorization` header: HTTP Basic `haplo:<key>` (any other Basic user is none), or a bearer. */
export function keyOf(header: string | undefined): string | undefined {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    return decoded.startsWith('haplo:') ? decoded.slice('haplo:'.length) : undefined;
  }
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

export interface PollApiDeps { store: Store; messages: IntegrationMessages; installations: Pick<Installations, 'byRespondRoot'>; maxBodyBytes: number }

export function pollApi(deps: PollApiDeps): Middleware {
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m) return next();
    const [, workspaceId, group, action] = m as unknown as [string, string, string, 'fetch' | 'mark'];
    // A plugin of the workspace that declares the root answers Haplo's poll API itself, under API keys.
    if (await deps.installations.byRespondRoot(workspaceId, ctx.path.slice(`/workspaces/${workspaceId}`.length))) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'POST') throw new PlughostError('METHOD_NOT_ALLOWED', 'the poll API takes GET or POST');
    const key = keyOf(ctx.get('authorization'));
    const scope = key && key.length <= 200 ? await deps.store.messages.keyScope(hashToken(key)) : undefined;
    if (!scope || !sameHash(scope.keyHash, hashToken(key!))) {
      ctx.set('www-authenticate', 'Basic realm="haplo-integration-messages"');
      throw new PlughostError('UNAUTHORIZED', 'send the poll key as HTTP Basic haplo:<key>');
    }
    if (scope.workspaceId !== workspaceId || scope.group !== group) throw new PlughostError('FORBIDDEN', 'this key is for another queue');
    ctx.set('cache-control', 'no-store');
    if (action === 'fetch') {
      const batch = await deps.messages.pollFetch(workspaceId, group);
      ctx.set('content-type', batch.contentType);
      ctx.set('x-haplo-token', batch.token);
      ctx.body = batch.body;
      return;
    }
    const body = ctx.method === 'POST' ? (await anyBody(ctx, deps.maxBodyBytes)).parsed : undefined;
    const token = (body && typeof body === 'object' ? (body as Record<string, unknown>).token : undefined) ?? ctx.query.token;
    if (typeof token !== 'string' || token === '') throw new PlughostError('INVALID_QUERY', 'give the `token` from the fetch');
    ctx.body = await deps.messages.pollMark(workspaceId, group, token);
  };
}
