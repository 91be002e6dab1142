// Integration-message tables: queues, messages, poll keys and poll tokens. Sending claims a
// queue's unsent messages with one conditional update into a batch, so two sends racing on
// one queue take disjoint sets; only a 2xx marks a batch sent, anything else releases it.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';

/** `limits.queueMessages` (waiting messages per queue) and `limits.messageBytes` (JSON of one message's data). */
export interface MessageLimits { queueMessages: number; messageBytes: number }

export interface Queue {
  workspaceId: string; group: string; installationId: string | null; method: 'poll' | 'send'; title: string; description: string;
  lastError: string | null; lastErrorAt: number | null; lastSentAt: number | null;
}
export interface Message { id: number; group: string; data: Record<string, unknown>; status: 'unsent' | 'sending' | 'sent'; createdAt: number; sentAt: number | null }

interface MessageRow { id: number; group_name: string; data: string; status: string; created_at: number; sent_at: number | null }
const toMessage = (r: MessageRow): Message => ({
  id: Number(r.id), group: r.group_name, data: JSON.parse(r.data), status: r.status as Message['status'],
  createdAt: Number(r.created_at), sentAt: r.sent_at === null ? null : Number(r.sent_at),
});
const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function integrationMessagesTable(db: Knex) {
  return {
    async upsertQueue(q: Omit<Queue, 'lastError' | 'lastErrorAt' | 'lastSentAt'>): Promise<void> {
      await db('im_queues').insert({
        workspace_id: q.workspaceId, group_name: q.group, installation_id: q.installationId, method: q.method, title: q.title, description: q.description,
      }).onConflict(['workspace_id', 'group_name']).merge(['installation_id', 'method', 'title', 'description']);
    },
    async dropQueuesOf(installationId: string, keep: string[]): Promise<void> {
      await db('im_queues').where({ installation_id: installationId }).whereNotIn('group_name', keep.length ? keep : ['']).delete();
    },
    async queue(workspaceId: string, group: string): Promise<Queue | undefined> {
      const r = await db('im_queues').where({ workspace_id: workspaceId, group_name: group }).first();
      return r ? {
        workspaceId: r.workspace_id, group: r.group_name, installationId: r.installation_id, method: r.method, title: r.title, description: r.description,
        lastError: r.last_error, lastErrorAt: num(r.last_error_at), lastSentAt: num(r.last_sent_at),
      } : undefined;
    },
    /** Every queue of a workspace (discovered ones and groups that only have messages), with counts. */
    async queues(workspaceId: string): Promise<Array<Queue & { unsent: number; sent: number }>> {
      const counts: Array<{ group_name: string; status: string; n: number }> = await db('im_messages')
        .where({ workspace_id: workspaceId }).groupBy('group_name', 'status').select('group_name', 'status').count({ n: '*' });
      const rows = await db('im_queues').where({ workspace_id: workspaceId });
      const out = new Map<string, Queue & { unsent: number; sent: number }>();
      for (const r of rows) {
        out.set(r.group_name, {
          workspaceId, group: r.group_name, installationId: r.installation_id, method: r.method, title: r.title, description: r.description,
          lastError: r.last_error, lastErrorAt: num(r.last_error_at), lastSentAt: num(r.last_sent_at), unsent: 0, sent: 0,
        });
      }
      for (const c of counts) {
        const q = out.get(c.group_name) ?? {
          workspaceId, group: c.group_name, installationId: null, method: 'send' as const, title: c.group_name, description: '(not discovered)',
          lastError: null, lastErrorAt: null, lastSentAt: null, unsent: 0, sent: 0,
        };
        if (c.status === 'sent') q.sent += Number(c.n);
        else q.unsent += Number(c.n);
        out.set(c.group_name, q);
      }
      return [...out.values()].sort((a, b) => a.group.localeCompare(b.group));
    },
    async recordSendOutcome(workspaceId: string, group: string, now: number, error: string | null): Promise<void> {
      const exists = await db('im_queues').where({ workspace_id: workspaceId, group_name: group }).first();
      if (!exists) await this.upsertQueue({ workspaceId, group, installationId: null, method: 'send', title: group, description: '(not discovered)' });
      await db('im_queues').where({ workspace_id: workspaceId, group_name: group })
        .update(error === null ? { last_sent_at: now, last_error: null, last_error_at: null } : { last_error: error.slice(0, 2000), last_error_at: now });
    },

    /**
     * Adds a message unless it is over `limits.messageBytes` or its queue already holds
     * `limits.queueMessages` waiting (unsent or sending) messages: PLUGIN_LIMIT then, nothing
     * written. The count and the insert share a transaction under a per-queue lock (a
     * transaction-scoped advisory lock on PostgreSQL; SQLite has one writer), so racing adds
     * cannot take a queue past its limit. The count reads at most `queueMessages` index entries.
     */
    async add(workspaceId: string, group: string, data: unknown, now: number, limits: MessageLimits): Promise<number> {
      const json = JSON.stringify(data);
      const bytes = Buffer.byteLength(json);
      if (bytes > limits.messageBytes) {
        throw new PlughostError('PLUGIN_LIMIT', `the message is ${bytes} bytes of JSON, over the limit of ${limits.messageBytes} (limits.messageBytes)`,
          { details: { limit: 'messageBytes', max: limits.messageBytes, wanted: bytes } });
      }
      return db.transaction(async (trx) => {
        if (trx.client.config.client === 'pg') await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`plughost-queue:${workspaceId}:${group}`]);
        const waiting = trx('im_messages').where({ workspace_id: workspaceId, group_name: group }).whereIn('status', ['unsent', 'sending'])
          .select(trx.raw('1')).limit(limits.queueMessages);
        const counted = await trx.from(waiting.as('w')).count({ n: '*' }).first();
        const n = Number(counted?.n ?? 0);
        if (n >= limits.queueMessages) {
          throw new PlughostError('PLUGIN_LIMIT', `queue ${group} is full: it holds ${n} messages waiting to be sent, its limit (limits.queueMessages); send or poll them first`,
            { details: { limit: 'queueMessages', max: limits.queueMessages, group } });
        }
        const [row] = await trx('im_messages').insert({ workspace_id: workspaceId, group_name: group, data: json, status: 'unsent', created_at: now }).returning('id');
        return Number(typeof row === 'object' ? row.id : row);
      });
    },
    async list(workspaceId: string, group: string, status: string | undefined, limit: number, beforeId?: number): Promise<Message[]> {
      const q = db('im_messages').where({ workspace_id: workspaceId, group_name: group });
      if (status) q.where({ status });
      if (beforeId !== undefined) q.where('id', '<', beforeId);
      return (await q.orderBy('id', 'desc').limit(limit)).map(toMessage);
    },
    /** The oldest unsent messages of a queue (the poll API's fetch). */
    async oldestUnsent(workspaceId: string, group: string, limit: number): Promise<Message[]> {
      return (await this.oldestUnsentQuery(workspaceId, group, limit)).map(toMessage);
    },
    oldestUnsentQuery(workspaceId: string, group: string, limit: number): Knex.QueryBuilder {
      return db('im_messages').where({ workspace_id: workspaceId, group_name: group, status: 'unsent' }).orderBy('id').limit(limit);
    },
    async unsentCount(workspaceId: string, group: string): Promise<number> {
      const r = await db('im_messages').where({ workspace_id: workspaceId, group_name: group, status: 'unsent' }).count({ n: '*' }).first();
      return Number(r?.n ?? 0);
    },
    /** Marks exactly `ids` sent where they are still unsent; returns how many it marked. */
    async markSent(workspaceId: string, group: string, ids: number[], now: number): Promise<number> {
      let n = 0;
      for (let i = 0; i < ids.length; i += 500) {
        n += await db('im_messages').where({ workspace_id: workspaceId, group_name: group, status: 'unsent' }).whereIn('id', ids.slice(i, i + 500))
          .update({ status: 'sent', sent_at: now });
      }
      return n;
    },
    async markUnsent(workspaceId: string, group: string, id: number): Promise<boolean> {
      return (await db('im_messages').where({ workspace_id: workspaceId, group_name: group, id }).update({ status: 'unsent', sent_at: null, batch_id: null, lease_until: null })) === 1;
    },
    /** Claims up to `limit` unsent messages (and ones of a send that died) into batch `batchId`. */
    async claimBatch(workspaceId: string, group: string, batchId: string, now: number, leaseUntil: number, limit: number): Promise<Message[]> {
      const ids = (await db('im_messages').where({ workspace_id: workspaceId, group_name: group })
        .where((w) => w.where({ status: 'unsent' }).orWhere((x) => x.where({ status: 'sending' }).andWhere('lease_until', '<', now)))
        .orderBy('id').limit(limit).select('id')).map((r: { id: number }) => Number(r.id));
      if (ids.length === 0) return [];
      // Conditional: a message another send claimed in between is not taken twice.
      await db('im_messages').whereIn('id', ids)
        .where((w) => w.where({ status: 'unsent' }).orWhere((x) => x.where({ status: 'sending' }).andWhere('lease_until', '<', now)))
        .update({ status: 'sending', batch_id: batchId, lease_until: leaseUntil });
      return (await db('im_messages').where({ batch_id: batchId, status: 'sending' }).orderBy('id')).map(toMessage);
    },
    async finishBatch(batchId: string, delivered: boolean, now: number): Promise<number> {
      return db('im_messages').where({ batch_id: batchId, status: 'sending' })
        .update(delivered ? { status: 'sent', sent_at: now, lease_until: null } : { status: 'unsent', batch_id: null, lease_until: null });
    },

    async addKey(id: string, workspaceId: string, group: string, keyHash: string, now: number): Promise<void> {
      await db('im_poll_keys').insert({ id, workspace_id: workspaceId, group_name: group, key_hash: keyHash, created_at: now });
    },
    /** A workspace's poll keys, oldest first: ids, queues and creation times (a key is stored as its hash only). */
    async keys(workspaceId: string): Promise<Array<{ id: string; group: string; createdAt: number }>> {
      const rows: Array<{ id: string; group_name: string; created_at: number | string }> = await db('im_poll_keys')
        .where({ workspace_id: workspaceId }).orderBy('created_at').orderBy('id').select('id', 'group_name', 'created_at');
      return rows.map((r) => ({ id: r.id, group: r.group_name, createdAt: Number(r.created_at) }));
    },
    /** Deletes a poll key of the workspace, so it opens nothing from now on; false when the workspace has no key with that id. */
    async deleteKey(workspaceId: string, id: string): Promise<boolean> {
      return (await db('im_poll_keys').where({ workspace_id: workspaceId, id }).delete()) > 0;
    },
    async keyScope(keyHash: string): Promise<{ workspaceId: string; group: string; keyHash: string } | undefined> {
      const r = await db('im_poll_keys').where({ key_hash: keyHash }).first();
      return r ? { workspaceId: r.workspace_id, group: r.group_name, keyHash: r.key_hash } : undefined;
    },
    async saveToken(workspaceId: string, group: string, tokenHash: string, ids: number[], now: number): Promise<void> {
      await db('im_poll_tokens').insert({ workspace_id: workspaceId, group_name: group, token_hash: tokenHash, ids: JSON.stringify(ids), created_at: now })
        .onConflict(['workspace_id', 'group_name', 'token_hash']).merge(['created_at']);
    },
    /** The ids a token was issued for, spending the token: it marks once. */
    async spendToken(workspaceId: string, group: string, tokenHash: string): Promise<number[] | undefined> {
      const where = { workspace_id: workspaceId, group_name: group, token_hash: tokenHash };
      const r = await db('im_poll_tokens').where(where).first();
      if (!r || (await db('im_poll_tokens').where(where).delete()) !== 1) return undefined; // spent by a racing mark
      return JSON.parse(r.ids);
    },
  };
}
export type IntegrationMessagesTable = ReturnType<typeof integrationMessagesTable>;
