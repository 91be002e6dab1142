// Who is calling: the operator (manages everything) or one workspace's token (manages that
// workspace only). Tokens are looked up by SHA-256 hash and the hash compared in constant time.
import { PlughostError } from './errors.ts';
import { newId, newToken } from './ids.ts';
import { hashToken, sameHash } from './secrets.ts';
import type { Store } from './store/store.ts';

export type Principal = { kind: 'operator'; tokenId: string } | { kind: 'workspace'; workspaceId: string; tokenId: string };

export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

export function createAuth(store: Store, now: () => number) {
  return {
    /** The principal for a token, or undefined for an unknown one. */
    async principalOf(token: string | undefined): Promise<Principal | undefined> {
      if (!token || token.length > 200) return undefined;
      const hash = hashToken(token);
      const record = await store.tokens.findByHash(hash);
      if (!record || !sameHash(record.tokenHash, hash)) return undefined;
      return record.kind === 'operator' ? { kind: 'operator', tokenId: record.id } : { kind: 'workspace', workspaceId: record.workspaceId!, tokenId: record.id };
    },

    /** The principal of a stored token found by its id (an admin UI session names its token so), or undefined. */
    async principalById(id: string): Promise<Principal | undefined> {
      const record = await store.db('tokens').where({ id }).first() as { id: string; kind: string; workspace_id: string | null } | undefined;
      if (!record) return undefined;
      return record.kind === 'operator' ? { kind: 'operator', tokenId: record.id } : { kind: 'workspace', workspaceId: record.workspace_id!, tokenId: record.id };
    },

    async require(token: string | undefined): Promise<Principal> {
      const principal = await this.principalOf(token);
      if (!principal) throw new PlughostError('UNAUTHORIZED', token ? 'the bearer token is not valid on this host' : 'send `Authorization: Bearer <token>` (the operator token or a workspace token)');
      return principal;
    },

    /** Throws FORBIDDEN unless the principal may manage `workspaceId`. */
    checkWorkspace(principal: Principal, workspaceId: string): void {
      if (principal.kind === 'workspace' && principal.workspaceId !== workspaceId) {
        throw new PlughostError('FORBIDDEN', 'this workspace token manages another workspace');
      }
    },

    checkOperator(principal: Principal): void {
      if (principal.kind !== 'operator') throw new PlughostError('FORBIDDEN', 'only the operator token may do this');
    },

    async createWorkspaceToken(workspaceId: string): Promise<string> {
      await store.workspaces.require(workspaceId);
      const token = newToken('phw');
      await store.tokens.insert({ id: newId('tok'), tokenHash: hashToken(token), kind: 'workspace', workspaceId, createdAt: now() });
      return token;
    },

    /** A workspace's tokens: ids and creation times (a token is stored as its hash, so it is never shown again). */
    async workspaceTokens(workspaceId: string): Promise<Array<{ id: string; createdAt: number }>> {
      await store.workspaces.require(workspaceId);
      return store.tokens.ofWorkspace(workspaceId);
    },

    /**
     * Revokes a workspace token: from now on its bearer requests are refused and the admin UI
     * sessions signed in with it are signed out (a session names its token, looked up each request).
     */
    async revokeWorkspaceToken(workspaceId: string, id: string): Promise<void> {
      if (!(await store.tokens.deleteOfWorkspace(workspaceId, id))) throw new PlughostError('TOKEN_NOT_FOUND', `workspace \`${workspaceId}\` has no token \`${id}\``);
    },

    /**
     * Makes sure an operator token exists. A configured token is stored (hashed) if new;
     * with none configured and none stored, one is generated and returned, to be printed once.
     */
    async ensureOperatorToken(configured: string | undefined): Promise<string | undefined> {
      if (configured) {
        // Several hosts of a cluster may start at once with the same token: the first insert wins.
        await store.tokens.insertIfAbsent({ id: newId('tok'), tokenHash: hashToken(configured), kind: 'operator', workspaceId: null, createdAt: now() });
        return undefined;
      }
      if ((await store.tokens.countOperator()) > 0) return undefined;
      const token = newToken('pho');
      await store.tokens.insert({ id: newId('tok'), tokenHash: hashToken(token), kind: 'operator', workspaceId: null, createdAt: now() });
      return token;
    },
  };
}
export type Auth = ReturnType<typeof createAuth>;
