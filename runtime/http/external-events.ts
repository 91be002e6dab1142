// Freshworks external events: `generateTargetUrl()` gives an installation a URL on this host,
//   POST /workspaces/:ws/:namespace/external/:token
// and a third party's POST to it fires the app's onExternalEvent with FDK's payload (`data` is
// the request body, `headers` its headers). The token is a keyed digest of the installation's
// id, so the URL is stable across restarts and nodes and cannot be guessed. It answers 202 with
// the run's id as soon as the run starts; the run records what the handler did.
import { timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { PlughostError } from '../errors.ts';
import type { Installations } from '../installations.ts';
import type { HostOptions } from '../options.ts';
import type { Runs } from '../runs/execute.ts';
import type { Secrets } from '../secrets.ts';
import { anyBody } from './body.ts';

const PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/external\/([A-Za-z0-9_-]{16,128})$/;

/** The token in an installation's target URL. */
export const targetToken = (secrets: Secrets, installationId: string): string => secrets.mac(`onExternalEvent:${installationId}`).slice(0, 32);

const sameText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export interface ExternalEventDeps { installations: Installations; runs: Runs; secrets: Secrets; options: HostOptions }

export function externalEvents(deps: ExternalEventDeps): Middleware {
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m) return next();
    const [, workspaceId, namespace, token] = m as unknown as [string, string, string, string];
    const plugin = await deps.installations.byNamespace(workspaceId, namespace);
    if (!plugin || !plugin.manifest.events.onExternalEvent) return next();
    // A wrong token is the same answer as no such path: the URL is the credential.
    if (!sameText(targetToken(deps.secrets, plugin.installationId), token)) throw new PlughostError('NOT_FOUND', `nothing is served at ${ctx.path}`);
    if (ctx.method !== 'POST') throw new PlughostError('METHOD_NOT_ALLOWED', 'send external events with POST');
    const body = await anyBody(ctx, deps.options.http.maxBodyBytes);
    const headers = Object.fromEntries(Object.entries(ctx.headers).filter(([k]) => k !== 'authorization' && k !== 'cookie'));
    const call = await deps.runs.execute({
      kind: 'app-event', workspaceId, installationId: plugin.installationId, event: 'onExternalEvent',
      payload: { data: body.parsed ?? body.raw, headers }, plugin,
    }, { trigger: 'http' });
    ctx.status = 202;
    ctx.set('x-plughost-run', call.runId);
    ctx.body = { runId: call.runId };
  };
}
