// Integration-message admin: queues with counts, messages, send now, add by hand, mark
// unsent, poll keys made, listed and revoked (every manual act audited), and the clone guard's switch.
import { z } from 'zod';
import type { Principal } from '../../auth.ts';
import { PlughostError } from '../../errors.ts';
import { checkGroup } from '../../haplo/integration-messages.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { workspaceAccess } from '../api-context.ts';
import { jsonBody, validate } from '../body.ts';

const addInput = z.object({ data: z.record(z.string(), z.unknown()) }).strict();
const actor = (p: Principal) => `${p.kind}:${p.tokenId}`;

export function integrationMessageRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, store, messages, cloneGuard, clock, options } = deps;
  const base = '/workspaces/:ws/integration-messages';
  const guard = workspaceAccess(auth);
  const audit = (ws: string, p: Principal, action: string, detail: Record<string, unknown>) => store.audit.record(ws, actor(p), action, detail, clock.now());
  const view = (m: Awaited<ReturnType<typeof store.messages.list>>[number]) => ({
    id: m.id, group: m.group, status: m.status, data: m.data, createdAt: new Date(m.createdAt).toISOString(), sentAt: m.sentAt === null ? null : new Date(m.sentAt).toISOString(),
  });

  router.get(base, guard, async (ctx) => {
    await store.workspaces.require(ctx.params.ws!);
    const queues = await store.messages.queues(ctx.params.ws!);
    ctx.body = {
      sendingEnabled: (await cloneGuard.status()).enabled,
      // Each queue's `unsent` (unsent or being sent) is what limits.queueMessages counts.
      limits: { queueMessages: options.limits.queueMessages, messageBytes: options.limits.messageBytes },
      data: queues.map((q) => ({
        group: q.group, method: q.method, title: q.title, description: q.description, installationId: q.installationId, unsent: q.unsent, sent: q.sent,
        lastError: q.lastError, lastErrorAt: q.lastErrorAt === null ? null : new Date(q.lastErrorAt).toISOString(),
        lastSentAt: q.lastSentAt === null ? null : new Date(q.lastSentAt).toISOString(),
      })),
    };
  });
  router.get(`${base}/audit`, guard, async (ctx) => {
    ctx.body = { data: (await store.audit.list(ctx.params.ws!, 200)).map((a) => ({ ...a, at: new Date(a.at).toISOString() })) };
  });
  router.get(`${base}/:group/messages`, guard, async (ctx) => {
    const status = ctx.query.status;
    if (status !== undefined && !['unsent', 'sending', 'sent'].includes(String(status))) throw new PlughostError('INVALID_QUERY', '`status` must be unsent, sending or sent');
    const limit = ctx.query.limit === undefined ? 50 : Number(ctx.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new PlughostError('INVALID_QUERY', '`limit` must be an integer from 1 to 200');
    const before = ctx.query.cursor === undefined ? undefined : Number(ctx.query.cursor);
    if (before !== undefined && !Number.isInteger(before)) throw new PlughostError('INVALID_QUERY', '`cursor` is not one this host gave out');
    const list = await store.messages.list(ctx.params.ws!, checkGroup(ctx.params.group), status as string | undefined, limit + 1, before);
    ctx.body = { data: list.slice(0, limit).map(view), nextCursor: list.length > limit ? String(list[limit - 1]!.id) : null };
  });
  router.post(`${base}/:group/send`, guard, async (ctx) => {
    const group = checkGroup(ctx.params.group);
    await store.workspaces.require(ctx.params.ws!);
    await audit(ctx.params.ws!, ctx.state.principal, 'send', { group });
    ctx.body = await messages.send(ctx.params.ws!, group);
  });
  router.post(`${base}/:group/messages`, guard, async (ctx) => {
    const group = checkGroup(ctx.params.group);
    await store.workspaces.require(ctx.params.ws!);
    const input = validate(addInput, await jsonBody(ctx, options.http.maxBodyBytes));
    const id = await store.messages.add(ctx.params.ws!, group, input.data, clock.now(), options.limits);
    await audit(ctx.params.ws!, ctx.state.principal, 'add', { group, id });
    ctx.status = 201;
    ctx.body = { id };
  });
  router.post(`${base}/:group/messages/:id/unsent`, guard, async (ctx) => {
    const group = checkGroup(ctx.params.group);
    const id = Number(ctx.params.id);
    if (!Number.isInteger(id) || !(await store.messages.markUnsent(ctx.params.ws!, group, id))) {
      throw new PlughostError('QUEUE_NOT_FOUND', `no message ${ctx.params.id} in queue ${group}`);
    }
    await audit(ctx.params.ws!, ctx.state.principal, 'mark-unsent', { group, id });
    ctx.body = { id, status: 'unsent' };
  });
  router.post(`${base}/:group/keys`, guard, async (ctx) => {
    const group = checkGroup(ctx.params.group);
    await store.workspaces.require(ctx.params.ws!);
    const { id, key } = await messages.createKey(ctx.params.ws!, group);
    await audit(ctx.params.ws!, ctx.state.principal, 'create-poll-key', { group, id });
    ctx.status = 201;
    ctx.body = { id, key, group, pollUrl: `/workspaces/${ctx.params.ws}/api/haplo-integration-messages/poll/${group}/fetch` };
  });
  // Poll keys: listed without key or hash; a revoked one is deleted and the poll API refuses it.
  router.get(`${base}/keys`, guard, async (ctx) => {
    const keys = await messages.keys(ctx.params.ws!);
    ctx.body = { data: keys.map((k) => ({ id: k.id, group: k.group, createdAt: new Date(k.createdAt).toISOString() })), nextCursor: null };
  });
  router.delete(`${base}/keys/:id`, guard, async (ctx) => {
    const revoked = await messages.revokeKey(ctx.params.ws!, ctx.params.id!);
    await audit(ctx.params.ws!, ctx.state.principal, 'revoke-poll-key', { group: revoked.group, id: revoked.id });
    ctx.status = 204;
  });

  router.get('/integration-messages/sending', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    ctx.body = await cloneGuard.status();
  });
  router.post('/integration-messages/enable-sending', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    await cloneGuard.enable();
    ctx.body = await cloneGuard.status();
  });
}
