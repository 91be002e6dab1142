// Admin tokens, stored as SHA-256 hashes only. The operator token has no workspace;
// a workspace token manages exactly one workspace.
import type { Knex } from 'knex';

export interface TokenRecord { id: string; tokenHash: string; kind: 'operator' | 'workspace'; workspaceId: string | null; createdAt: number }
interface Row { id: string; token_hash: string; kind: string; workspace_id: string | null; created_at: number }

const toToken = (r: Row): TokenRecord => ({
  id: r.id, tokenHash: r.token_hash, kind: r.kind as TokenRecord['kind'], workspaceId: r.workspace_id, createdAt: Number(r.created_at),
});

export function tokensTable(db: Knex) {
  return {
    async insert(t: TokenRecord): Promise<void> {
      await db('tokens').insert({ id: t.id, token_hash: t.tokenHash, kind: t.kind, workspace_id: t.workspaceId, created_at: t.createdAt });
    },
    async insertIfAbsent(t: TokenRecord): Promise<void> {
      await db('tokens').insert({ id: t.id, token_hash: t.tokenHash, kind: t.kind, workspace_id: t.workspaceId, created_at: t.createdAt })
        .onConflict('token_hash').ignore();
    },
    async findByHash(tokenHash: string): Promise<TokenRecord | undefined> {
      const row = await db('tokens').where({ token_hash: tokenHash }).first();
      return row ? toToken(row) : undefined;
    },
    /** A workspace's tokens, oldest first: ids and creation times (the tokens themselves are never stored). */
    async ofWorkspace(workspaceId: string): Promise<Array<{ id: string; createdAt: number }>> {
      const rows: Row[] = await db('tokens').where({ kind: 'workspace', workspace_id: workspaceId }).orderBy('created_at').orderBy('id');
      return rows.map((r) => ({ id: r.id, createdAt: Number(r.created_at) }));
    },
    /** Deletes a token of the workspace (never the operator's); false when the workspace has no token with that id. */
    async deleteOfWorkspace(workspaceId: string, id: string): Promise<boolean> {
      return (await db('tokens').where({ id, kind: 'workspace', workspace_id: workspaceId }).delete()) > 0;
    },
    async countOperator(): Promise<number> {
      const row = await db('tokens').where({ kind: 'operator' }).count({ n: '*' }).first();
      return Number(row?.n ?? 0);
    },
  };
}
export type TokensTable = ReturnType<typeof tokensTable>;
