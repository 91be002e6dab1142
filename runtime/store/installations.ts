// Installations: a plugin version installed into a workspace under its namespace.
// Ids are time-ordered, so ordering by id is install order (Haplo's service order).
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';
import { isUniqueViolation } from './dialect.ts';
import { pageBy, type Page, type PageRequest } from './page.ts';

export interface Installation {
  id: string; workspaceId: string; pluginName: string; pluginVersion: string; namespace: string;
  iparams: Record<string, unknown>; secureIparams: string | null; active: boolean; createdAt: number; updatedAt: number;
  /** Haplo services the code implements, learnt when it last loaded. */
  services: string[];
  /** Why its code last failed to load; null once it loads (or before it was tried). */
  loadError?: { code: string; message: string } | null;
}
interface Row {
  id: string; workspace_id: string; plugin_name: string; plugin_version: string; namespace: string;
  iparams: string; secure_iparams: string | null; active: number | boolean; created_at: number; updated_at: number; services?: string | null; load_error?: string | null;
}

const toInstallation = (r: Row): Installation => ({
  id: r.id, workspaceId: r.workspace_id, pluginName: r.plugin_name, pluginVersion: r.plugin_version, namespace: r.namespace,
  iparams: JSON.parse(r.iparams), secureIparams: r.secure_iparams, active: Boolean(r.active),
  createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), services: r.services ? JSON.parse(r.services) : [], loadError: r.load_error ? JSON.parse(r.load_error) : null,
});

const namespaceTaken = (ns: string, err: unknown) =>
  new PlughostError('NAMESPACE_TAKEN', `namespace \`${ns}\` is used by another installation in this workspace; uninstall it first`, { cause: err });

export function installationsTable(db: Knex) {
  return {
    async insert(i: Installation): Promise<Installation> {
      try {
        await db('installations').insert({
          id: i.id, workspace_id: i.workspaceId, plugin_name: i.pluginName, plugin_version: i.pluginVersion,
          namespace: i.namespace, iparams: JSON.stringify(i.iparams), secure_iparams: i.secureIparams,
          active: i.active, created_at: i.createdAt, updated_at: i.updatedAt,
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw namespaceTaken(i.namespace, err);
        throw err;
      }
      return i;
    },
    async get(workspaceId: string, id: string): Promise<Installation | undefined> {
      const row = await db('installations').where({ workspace_id: workspaceId, id }).first();
      return row ? toInstallation(row) : undefined;
    },
    async require(workspaceId: string, id: string): Promise<Installation> {
      const inst = await this.get(workspaceId, id);
      if (!inst) throw new PlughostError('INSTALLATION_NOT_FOUND', `no installation \`${id}\` in workspace \`${workspaceId}\``);
      return inst;
    },
    async byId(id: string): Promise<Installation | undefined> {
      const row = await db('installations').where({ id }).first();
      return row ? toInstallation(row) : undefined;
    },
    async byNamespace(workspaceId: string, namespace: string): Promise<Installation | undefined> {
      const row = await db('installations').where({ workspace_id: workspaceId, namespace }).first();
      return row ? toInstallation(row) : undefined;
    },
    list(workspaceId: string, page: PageRequest): Promise<Page<Installation>> {
      return pageBy(db('installations').where({ workspace_id: workspaceId }), 'id', page, toInstallation);
    },
    /** Active installations of a workspace in install order. */
    async active(workspaceId: string): Promise<Installation[]> {
      const rows: Row[] = await db('installations').where({ workspace_id: workspaceId, active: true }).orderBy('id');
      return rows.map(toInstallation);
    },
    async update(i: Installation): Promise<Installation> {
      await db('installations').where({ id: i.id }).update({
        plugin_version: i.pluginVersion, iparams: JSON.stringify(i.iparams), secure_iparams: i.secureIparams,
        active: i.active, updated_at: i.updatedAt,
      });
      return i;
    },
    /** Records what loading the code revealed. */
    async setLoadInfo(id: string, info: { hooks: string[]; services: string[] }): Promise<void> {
      await db('installations').where({ id }).update({ hooks: JSON.stringify(info.hooks), services: JSON.stringify(info.services), load_error: null });
    },
    /** Records why the code failed to load (what it registered when it last loaded is kept). */
    async setLoadError(id: string, error: { code: string; message: string }): Promise<void> {
      await db('installations').where({ id }).update({ load_error: JSON.stringify(error) });
    },
    async delete(workspaceId: string, id: string): Promise<boolean> {
      return (await db('installations').where({ workspace_id: workspaceId, id }).delete()) > 0;
    },
  };
}
export type InstallationsTable = ReturnType<typeof installationsTable>;
