// Freshworks server method invocation (SMI) over HTTP:
//   POST /workspaces/:ws/:namespace/smi/:name   JSON arguments, Authorization: Bearer <workspace token>
// runs the installation's exported function `name` (listed under the manifest's functions) as
// one run and answers as FDK's `client.request.invoke` resolves: 200 `{requestID, response}`
// with what the function gave `renderData(null, data)`, or the status of its error with
// `{requestID, status, message}`. A call refused before any code runs (no token, no such
// function) answers with the host's error and records nothing, as a plugin route does.
import type { Middleware } from 'koa';
import type { Auth } from '../auth.ts';
import { bearerOf } from '../auth.ts';
import { PlughostError } from '../errors.ts';
import type { Installations } from '../installations.ts';
import type { HostOptions } from '../options.ts';
import type { Runs } from '../runs/execute.ts';
import { jsonBody } from './body.ts';

const PATH = /^\/workspaces\/([A-Za-z0-9_-]{1,64})\/([^/]+)\/smi\/([^/]+)$/;

export interface ServerMethodDeps { auth: Auth; installations: Installations; runs: Runs; options: HostOptions }

export function serverMethods(deps: ServerMethodDeps): Middleware {
  return async (ctx, next) => {
    const m = PATH.exec(ctx.path);
    if (!m) return next();
    const [, workspaceId, namespace, name] = m as unknown as [string, string, string, string];
    const plugin = await deps.installations.byNamespace(workspaceId, namespace);
    // Only an installation with server methods owns the path; otherwise it may be a plugin route.
    if (!plugin || Object.keys(plugin.manifest.functions).length === 0) return next();
    if (ctx.method !== 'POST') throw new PlughostError('METHOD_NOT_ALLOWED', 'call a server method with POST and its arguments as a JSON object');
    const principal = await deps.auth.require(bearerOf(ctx.get('authorization') || undefined));
    deps.auth.checkWorkspace(principal, workspaceId);
    if (!Object.hasOwn(plugin.manifest.functions, name)) {
      throw new PlughostError('FUNCTION_NOT_FOUND', `the ${namespace} installation lists no server method \`${name}\`; its manifest's functions name the ones it has`);
    }
    const args = await jsonBody(ctx, deps.options.http.maxBodyBytes);
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new PlughostError('INVALID_BODY', 'send the arguments as a JSON object');
    const call = await deps.runs.execute({ kind: 'smi', workspaceId, installationId: plugin.installationId, name, args: args as Record<string, unknown> }, { trigger: 'http' });
    const { run, outcome } = await call.done;
    ctx.set('x-plughost-run', call.runId);
    if (run.status === 'succeeded') {
      ctx.body = { requestID: call.runId, response: outcome?.value ?? null };
      return;
    }
    const status = (outcome?.error?.details as { status?: unknown } | undefined)?.status;
    ctx.status = typeof status === 'number' ? status : run.status === 'timed-out' ? 504 : 500;
    ctx.body = { requestID: call.runId, status: ctx.status, message: (outcome?.error?.message ?? run.error?.message ?? 'the server method failed').split('\n')[0] };
  };
}
