// Haplo integration messages, built into the host under Haplo's service names: `add` stores
// a message, `send` formats a queue's unsent messages and POSTs them (marked sent only on a
// 2xx), `discover` is asked of every installation, and the poll API hands out the oldest
// unsent messages with a token that marks exactly those. Formatting and the HTTP request are
// the plugins' `write-messages:GROUP` and `setup-http-request:GROUP` services. Poll keys (one
// queue each) are made, listed and revoked here; the routes that call these audit the acts.
import type { EgressClient } from '../egress/index.ts';
import { bodyExcerpt } from '../runs/outcome.ts';
import type { RunSink } from '../runs/record.ts';
import { PlughostError } from '../errors.ts';
import { newId, newToken } from '../ids.ts';
import { hashToken } from '../secrets.ts';
import type { Message, MessageLimits } from '../store/integration-messages.ts';
import type { Store } from '../store/store.ts';
import type { CloneGuard } from './clone-guard.ts';
import type { BuiltinService, HostCallOptions, ServiceRegistry } from './services.ts';

const SERVICE = 'haplo:integration-message';
export const POLL_BATCH = 16;
const SEND_BATCH = 1000;
const GROUP = /^[A-Za-z0-9_.:-]{1,100}$/;

type Log = (level: 'log' | 'info' | 'warn' | 'error' | 'debug' | 'host', text: string) => void;

export interface IntegrationMessagesDeps {
  store: Store; egress: EgressClient; cloneGuard: CloneGuard; now: () => number;
  registry: () => ServiceRegistry;
  /** How long the host waits for plugin formatters and the POST. */
  timeoutMs: number;
  /** Where each send's run goes (kind `send`): the host's run log. */
  runs?: RunSink;
  /** `limits.queueMessages` and `limits.messageBytes`: an add past either is PLUGIN_LIMIT. */
  limits: MessageLimits;
}

export function checkGroup(group: unknown): string {
  if (typeof group !== 'string' || !GROUP.test(group)) throw new PlughostError('INVALID_BODY', 'group must be 1-100 letters, digits, or . _ : -');
  return group;
}

/** The token for a list of messages: the base64 of their comma-joined ids, as Haplo makes it. */
export const tokenFor = (ids: number[]) => Buffer.from(ids.join(','), 'utf8').toString('base64');

export function createIntegrationMessages(deps: IntegrationMessagesDeps) {
  const { store, egress, cloneGuard, now } = deps;
  const quiet: Log = () => {};

  /** The body for a batch: the queue's formatter, or Haplo's default JSON. */
  const format = async (workspaceId: string, group: string, messages: Message[], token: string, deadline: number, log: Log, call: HostCallOptions = {}) => {
    const forPlugin = messages.map((m) => ({ id: m.id, datetime: new Date(m.createdAt).toISOString(), data: m.data }));
    const custom = await deps.registry().callFirst(workspaceId, `${SERVICE}:write-messages:${group}`, [forPlugin, token], deadline, log, call);
    if (custom && !custom.result.ok) throw new PlughostError('SEND_FAILED', `the write-messages:${group} formatter failed: ${custom.result.error?.message}`);
    const binary = custom?.result.value as { __plughost?: string; text?: string; mimeType?: string } | undefined;
    if (binary?.__plughost === 'binaryData') return { body: String(binary.text), contentType: binary.mimeType ?? 'application/octet-stream' };
    const body = { version: 0, token, messages: messages.map((m) => ({ id: m.id, datetime: new Date(m.createdAt).toISOString(), ...m.data })) };
    return { body: JSON.stringify(body), contentType: 'application/json' };
  };

  const inFlight = new Set<Promise<unknown>>();

  /** Sends a queue. `waiting`: the installations whose O.service calls asked for it (they wait meanwhile). */
  const send = (workspaceId: string, group: string, log: Log = quiet, waiting?: readonly string[]): Promise<{ sent: number }> => {
    const p = sendNow(workspaceId, group, log, waiting);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  };

  const sendNow = async (workspaceId: string, group: string, log: Log, waiting?: readonly string[]): Promise<{ sent: number }> => {
    await cloneGuard.check();
    const deadline = Date.now() + deps.timeoutMs; // real time: it bounds plugin code, not schedules
    const call = { waiting };
    const batchId = newId('batch');
    const messages = await store.messages.claimBatch(workspaceId, group, batchId, now(), now() + deps.timeoutMs * 2, SEND_BATCH);
    if (messages.length === 0) return { sent: 0 };
    let delivered = false;
    const startedAt = now();
    const lines = [`${messages.length} message(s) of ${group}: ids ${messages.map((m) => m.id).join(', ')}`.slice(0, 4000)];
    const result: { installationId: string | null; httpStatus: number | null; error: { code: string; message: string } | null } = { installationId: null, httpStatus: null, error: null };
    try {
      const token = tokenFor(messages.map((m) => m.id));
      const { body, contentType } = await format(workspaceId, group, messages, token, deadline, log, call);
      const forSetup = [{ __plughost: 'httpClient' }, messages.map((m) => ({ id: m.id, data: m.data }))];
      const setup = await deps.registry().callFirst(workspaceId, `${SERVICE}:setup-http-request:${group}`, forSetup, deadline, log, call)
        ?? await deps.registry().callFirst(workspaceId, `${SERVICE}:format-http-request:${group}`, forSetup, deadline, log, call);
      const request = setup?.result.effects?.httpRequest;
      if (!setup || !setup.result.ok || !request?.url) {
        throw new PlughostError('SEND_FAILED', setup && !setup.result.ok ? `setup-http-request:${group} failed: ${setup.result.error?.message}`
          : `no installation sets up the HTTP request for queue ${group}: implement ${SERVICE}:setup-http-request:${group}`);
      }
      result.installationId = setup.installationId;
      const plugin = await store.installations.byId(setup.installationId);
      const manifest = plugin ? (await store.pluginVersions.get(plugin.pluginName, plugin.pluginVersion))?.manifest : undefined;
      const res = await egress.request(
        { url: request.url, method: request.method || 'POST', headers: { 'content-type': contentType, ...request.headers }, body },
        { permittedHosts: manifest?.permissions.hosts ?? [], timeoutMs: Math.max(1, deadline - Date.now()) },
      );
      result.httpStatus = res.status;
      const excerpt = bodyExcerpt(res.body);
      lines.push(`${request.method || 'POST'} ${new URL(request.url).origin}${new URL(request.url).pathname} → ${res.status}${excerpt ? `: ${excerpt}` : ''}`);
      if (res.status < 200 || res.status >= 300) throw new PlughostError('SEND_FAILED', `${request.method || 'POST'} ${new URL(request.url).origin} answered ${res.status}; the ${messages.length} message(s) stay unsent`);
      delivered = true;
      log('info', `sent ${messages.length} message(s) of ${group} → ${res.status}`);
      return { sent: messages.length };
    } catch (err) {
      const message = (err as Error).message;
      result.error = { code: err instanceof PlughostError ? err.code : 'SEND_FAILED', message };
      await store.messages.recordSendOutcome(workspaceId, group, now(), message);
      if (err instanceof PlughostError) throw err;
      throw new PlughostError('SEND_FAILED', message, { cause: err });
    } finally {
      // Only a 2xx marks the batch sent; anything else puts it back, unsent, for the next send.
      await store.messages.finishBatch(batchId, delivered, now());
      if (delivered) await store.messages.recordSendOutcome(workspaceId, group, now(), null);
      deps.runs?.(workspaceId, { kind: 'send', trigger: waiting?.length ? 'http' : 'manual', target: `send ${group}`, installationId: result.installationId }, {
        status: delivered ? 'succeeded' : 'failed', startedAt, durationMs: now() - startedAt, httpStatus: result.httpStatus,
        log: lines.join('\n'), error: delivered ? null : result.error,
      });
    }
  };

  const builtins = new Map<string, BuiltinService>([
    [`${SERVICE}:add`, async (caller, [details]) => {
      const d = (details ?? {}) as { group?: unknown; data?: unknown };
      const group = checkGroup(d.group);
      if (d.data === null || typeof d.data !== 'object' || Array.isArray(d.data)) throw new PlughostError('INVALID_BODY', 'data must be an object');
      return store.messages.add(caller.workspaceId, group, d.data, now(), deps.limits);
    }],
    [`${SERVICE}:send`, async (caller, [details], _deadline, log, chain) =>
      send(caller.workspaceId, checkGroup((details as { group?: unknown } | undefined)?.group), log, chain)],
  ]);

  return {
    builtins,
    send,
    /** Waits for the sends in flight to record their outcome (before the store closes). */
    async drain(): Promise<void> {
      await Promise.allSettled([...inFlight]);
    },
    /** Asks every installation implementing discover for its queues and records them. */
    async discover(workspaceId: string): Promise<void> {
      const answers = await deps.registry().callAll(workspaceId, `${SERVICE}:discover`, [{ __plughost: 'collector' }], Date.now() + deps.timeoutMs, quiet);
      for (const { installationId, result } of answers) {
        const found: string[] = [];
        for (const q of (result.effects?.collected ?? []) as Array<Record<string, unknown>>) {
          if (!q || typeof q.group !== 'string' || !GROUP.test(q.group)) continue;
          found.push(q.group);
          await store.messages.upsertQueue({
            workspaceId, group: q.group, installationId, method: q.method === 'poll' ? 'poll' : 'send',
            title: String(q.title ?? q.group).slice(0, 300), description: String(q.description ?? '').slice(0, 2000),
          });
        }
        await store.messages.dropQueuesOf(installationId, found);
      }
    },
    /** The poll API's fetch: the oldest unsent messages, formatted, with a token for exactly them. */
    async pollFetch(workspaceId: string, group: string) {
      const messages = await store.messages.oldestUnsent(workspaceId, group, POLL_BATCH);
      const ids = messages.map((m) => m.id);
      const token = tokenFor(ids);
      if (ids.length > 0) await store.messages.saveToken(workspaceId, group, hashToken(token), ids, now());
      return { ...(await format(workspaceId, group, messages, token, Date.now() + deps.timeoutMs, quiet)), token, count: ids.length };
    },
    /** The poll API's mark: a token this host issued for this queue marks exactly its messages. */
    async pollMark(workspaceId: string, group: string, token: string) {
      const ids = token.length <= 20_000 ? await store.messages.spendToken(workspaceId, group, hashToken(token)) : undefined;
      const markedCount = ids ? await store.messages.markSent(workspaceId, group, ids, now()) : 0;
      return { markedCount, unreadCount: await store.messages.unsentCount(workspaceId, group) };
    },
    /** A poll key for one queue: the key is in this answer only (the store keeps its hash). */
    async createKey(workspaceId: string, group: string): Promise<{ id: string; key: string }> {
      const key = newToken('phk');
      const id = newId('key');
      await store.messages.addKey(id, workspaceId, group, hashToken(key), now());
      return { id, key };
    },
    /** A workspace's poll keys: ids, queues and creation times, never a key. */
    async keys(workspaceId: string): Promise<Array<{ id: string; group: string; createdAt: number }>> {
      await store.workspaces.require(workspaceId);
      return store.messages.keys(workspaceId);
    },
    /** Revokes a poll key (deletes it: the poll API refuses it from now on); returns what it was, for the audit. */
    async revokeKey(workspaceId: string, id: string): Promise<{ id: string; group: string; createdAt: number }> {
      const found = (await store.messages.keys(workspaceId)).find((k) => k.id === id);
      if (!found || !(await store.messages.deleteKey(workspaceId, id))) {
        throw new PlughostError('POLL_KEY_NOT_FOUND', `workspace \`${workspaceId}\` has no poll key \`${id}\` (a revoked key is deleted); GET /api/v1/workspaces/${workspaceId}/integration-messages/keys lists its keys`);
      }
      return found;
    },
  };
}
export type IntegrationMessages = ReturnType<typeof createIntegrationMessages>;
