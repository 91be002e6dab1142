// The audit log: who did which manual act in a workspace, and when.
import type { Knex } from 'knex';

export interface AuditEntry { id: number; workspaceId: string; actor: string; action: string; detail: Record<string, unknown>; at: number }

export function auditTable(db: Knex) {
  return {
    async record(workspaceId: string, actor: string, action: string, detail: Record<string, unknown>, at: number): Promise<void> {
      await db('audit_log').insert({ workspace_id: workspaceId, actor, action, detail: JSON.stringify(detail), at });
    },
    async list(workspaceId: string, limit: number): Promise<AuditEntry[]> {
      const rows = await db('audit_log').where({ workspace_id: workspaceId }).orderBy('id', 'desc').limit(limit);
      return rows.map((r: { id: number; workspace_id: string; actor: string; action: string; detail: string; at: number }) => ({
        id: Number(r.id), workspaceId: r.workspace_id, actor: r.actor, action: r.action, detail: JSON.parse(r.detail), at: Number(r.at),
      }));
    },
  };
}
export type AuditTable = ReturnType<typeof auditTable>;
