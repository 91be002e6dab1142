// API keys for Haplo `/api` respond roots (migration 011): a key opens the paths under its
// prefix in one workspace. Only the key's SHA-256 hash is stored, looked up by that hash;
// revoking keeps the row (with the time), so a revoked key is listed, and refused.
import type { Knex } from 'knex';
import { pageBy, type Page, type PageRequest } from './page.ts';

export interface ApiKey {
  id: string;
  workspaceId: string;
  name: string;
  /** The path the key opens, with every path under it: `/api/x` holds `/api/x` and `/api/x/…`. */
  pathPrefix: string;
  keyHash: string;
  createdAt: number;
  revokedAt: number | null;
}

interface Row { id: string; workspace_id: string; name: string; path_prefix: string; key_hash: string; created_at: number | string; revoked_at: number | string | null }

const toApiKey = (r: Row): ApiKey => ({
  id: r.id, workspaceId: r.workspace_id, name: r.name, pathPrefix: r.path_prefix, keyHash: r.key_hash,
  createdAt: Number(r.created_at), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
});

export function apiKeysTable(db: Knex) {
  return {
    async create(k: Omit<ApiKey, 'revokedAt'>): Promise<void> {
      await db('api_keys').insert({ id: k.id, workspace_id: k.workspaceId, name: k.name, path_prefix: k.pathPrefix, key_hash: k.keyHash, created_at: k.createdAt });
    },
    /** The key with this hash, revoked or not; the caller compares the hash in constant time. */
    async byHash(keyHash: string): Promise<ApiKey | undefined> {
      const row = await db('api_keys').where({ key_hash: keyHash }).first();
      return row ? toApiKey(row) : undefined;
    },
    /** A workspace's keys, oldest first, revoked ones included. */
    list(workspaceId: string, page: PageRequest = {}): Promise<Page<ApiKey>> {
      return pageBy(db('api_keys').where({ workspace_id: workspaceId }), 'id', page, toApiKey);
    },
    /** Revokes a key of the workspace (revoking twice keeps the first time); false when it has no such key. */
    async revoke(workspaceId: string, id: string, now: number): Promise<boolean> {
      const n = await db('api_keys').where({ workspace_id: workspaceId, id }).update({ revoked_at: db.raw('coalesce(revoked_at, ?)', [now]) });
      return n > 0;
    },
  };
}
export type ApiKeysTable = ReturnType<typeof apiKeysTable>;
