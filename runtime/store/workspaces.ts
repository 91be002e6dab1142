// The workspaces table: tenants that plugins are installed into.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';
import { isUniqueViolation } from './dialect.ts';
import { pageBy, type Page, type PageRequest } from './page.ts';

export interface Workspace { id: string; name: string; timezone: string; createdAt: number }
interface Row { id: string; name: string; timezone: string; created_at: number }

const toWorkspace = (r: Row): Workspace => ({ id: r.id, name: r.name, timezone: r.timezone, createdAt: Number(r.created_at) });

export function workspacesTable(db: Knex) {
  return {
    async create(ws: Workspace): Promise<Workspace> {
      try {
        await db('workspaces').insert({ id: ws.id, name: ws.name, timezone: ws.timezone, created_at: ws.createdAt });
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
    list(page: PageRequest, only?: string): Promise<Page<Workspace>> {
      const q = db('workspaces').select('*');
      if (only !== undefined) q.where({ id: only });
      return pageBy(q, 'id', page, toWorkspace);
    },
  };
}
export type WorkspacesTable = ReturnType<typeof workspacesTable>;
