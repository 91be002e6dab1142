// The workspaces table: tenants that plugins are installed into.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';
import { isUniqueViolation } from './dialect.ts';
import { pageBy, type Page, type PageRequest } from './page.ts';

/**
 * `domain` and `region`: what the host product says of the account, for Freshworks payloads
 * (null: not set). `config`: the workspace's config data, Haplo's `O.application.config` ({} until set).
 */
export interface Workspace { id: string; name: string; timezone: string; createdAt: number; domain: string | null; region: string | null; config: Record<string, unknown> }
interface Row { id: string; name: string; timezone: string; created_at: number; product_domain: string | null; region: string | null; config: string | null }

const toWorkspace = (r: Row): Workspace => ({
  id: r.id, name: r.name, timezone: r.timezone, createdAt: Number(r.created_at), domain: r.product_domain ?? null, region: r.region ?? null,
  config: r.config ? JSON.parse(r.config) : {},
});

export function workspacesTable(db: Knex) {
  return {
    async create(input: Omit<Workspace, 'domain' | 'region' | 'config'> & Partial<Pick<Workspace, 'domain' | 'region'>>): Promise<Workspace> {
      const ws: Workspace = { ...input, domain: input.domain ?? null, region: input.region ?? null, config: {} };
      try {
        await db('workspaces').insert({ id: ws.id, name: ws.name, timezone: ws.timezone, created_at: ws.createdAt, product_domain: ws.domain, region: ws.region });
      } catch (err) {
        if (isUniqueViolation(err)) throw new PlughostError('WORKSPACE_EXISTS', `workspace \`${ws.id}\` exists; choose another id`, { cause: err });
        throw err;
      }
      return ws;
    },
    async get(id: string): Promise<Workspace | undefined> {
      const row = await db('workspaces').where({ id }).first();
      return row ? toWorkspace(row) : undefined;
    },
    async require(id: string): Promise<Workspace> {
      const ws = await this.get(id);
      if (!ws) throw new PlughostError('WORKSPACE_NOT_FOUND', `no workspace \`${id}\``);
      return ws;
    },
    /** Changes the name or product fields given; resolves with the workspace as stored. */
    async update(id: string, change: Partial<Pick<Workspace, 'name' | 'domain' | 'region' | 'config'>>): Promise<Workspace> {
      const set: Record<string, unknown> = {};
      if (change.name !== undefined) set.name = change.name;
      if (change.domain !== undefined) set.product_domain = change.domain;
      if (change.region !== undefined) set.region = change.region;
      if (change.config !== undefined) set.config = JSON.stringify(change.config);
      if (Object.keys(set).length > 0 && (await db('workspaces').where({ id }).update(set)) === 0) {
        throw new PlughostError('WORKSPACE_NOT_FOUND', `no workspace \`${id}\``);
      }
      return this.require(id);
    },
    list(page: PageRequest, only?: string): Promise<Page<Workspace>> {
      const q = db('workspaces').select('*');
      if (only !== undefined) q.where({ id: only });
      return pageBy(q, 'id', page, toWorkspace);
    },
  };
}
export type WorkspacesTable = ReturnType<typeof workspacesTable>;
