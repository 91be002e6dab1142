// Run history: filtered lists (newest first) and one run with its log.
import { PlughostError } from '../../errors.ts';
import { parsePage } from '../../store/page.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';

const KINDS = ['route', 'webhook', 'event', 'smi', 'hook', 'service', 'send', 'background'];
const STATUSES = ['running', 'succeeded', 'failed', 'timed-out'];

function filterValue(value: unknown, name: string, allowed?: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 100 || (allowed && !allowed.includes(value))) {
    throw new PlughostError('INVALID_QUERY', `\`${name}\` must be ${allowed ? `one of ${allowed.join(', ')}` : 'a single id'}`);
  }
  return value;
}

export function runRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, store, recorder, runs } = deps;
  router.get('/workspaces/:ws/runs', workspaceAccess(auth), async (ctx) => {
    await store.workspaces.require(ctx.params.ws!);
    await recorder.flush();
    ctx.body = await store.runs.list(ctx.params.ws!, {
      kind: filterValue(ctx.query.kind, 'kind', KINDS),
      status: filterValue(ctx.query.status, 'status', STATUSES),
      installationId: filterValue(ctx.query.installation, 'installation'),
      scheduleId: filterValue(ctx.query.schedule, 'schedule'),
    }, parsePage(ctx.query));
  });
  router.get('/workspaces/:ws/runs/:id', workspaceAccess(auth), async (ctx) => {
    // A route's response goes out before its run ends: a client reading it straight away waits for it.
    await runs.whenDone(ctx.params.id!);
    await recorder.flush();
    ctx.body = await store.runs.get(ctx.params.ws!, ctx.params.id!);
  });
}
