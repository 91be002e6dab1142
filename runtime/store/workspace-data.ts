// Workspace data: forms, folders and records, the data API that `zn-http` reads
// (`znHttp().get('/forms/1/records?folder.id=0')`). Folder 0 is every form's default folder.
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';

export interface Form { id: number; name: string }
export interface Folder { id: number; formId: number; name: string }
export interface DataRecord { id: number; formId: number; folderId: number; name: string; fields: Record<string, unknown>; createdAt: number }

export interface RecordQuery { folderId?: number | undefined; limit: number; offset: number }

export function workspaceDataTable(db: Knex) {
  const formOf = async (workspaceId: string, formId: number): Promise<Form> => {
    const row = await db('forms').where({ workspace_id: workspaceId, id: formId }).first();
    if (!row) throw new PlughostError('RECORD_NOT_FOUND', `no form ${formId} in workspace \`${workspaceId}\``);
    return { id: Number(row.id), name: row.name };
  };
  return {
    formOf,
    async listForms(workspaceId: string): Promise<Form[]> {
      const rows = await db('forms').where({ workspace_id: workspaceId }).orderBy('id');
      return rows.map((r: { id: number; name: string }) => ({ id: Number(r.id), name: r.name }));
    },
    async createForm(workspaceId: string, name: string): Promise<Form> {
      const [row] = await db('forms').insert({ workspace_id: workspaceId, name }).returning('id');
      return { id: Number(typeof row === 'object' ? row.id : row), name };
    },
    async listFolders(workspaceId: string, formId: number): Promise<Folder[]> {
      await formOf(workspaceId, formId);
      const rows = await db('folders').where({ form_id: formId }).orderBy('id');
      return [{ id: 0, formId, name: 'Default' }, ...rows.map((r: { id: number; name: string }) => ({ id: Number(r.id), formId, name: r.name }))];
    },
    async createFolder(workspaceId: string, formId: number, name: string): Promise<Folder> {
      await formOf(workspaceId, formId);
      const [row] = await db('folders').insert({ form_id: formId, name }).returning('id');
      return { id: Number(typeof row === 'object' ? row.id : row), formId, name };
    },
    async listRecords(workspaceId: string, formId: number, q: RecordQuery): Promise<{ data: DataRecord[]; totalCount: number }> {
      await formOf(workspaceId, formId);
      const base = db('records').where({ form_id: formId });
      if (q.folderId !== undefined) base.where({ folder_id: q.folderId });
      const [{ n }] = await base.clone().count({ n: '*' });
      const rows = await base.orderBy('id').limit(q.limit).offset(q.offset);
      return { data: rows.map(toRecord), totalCount: Number(n) };
    },
    async createRecord(workspaceId: string, formId: number, rec: { name: string; folderId: number; fields: Record<string, unknown> }, now: number): Promise<DataRecord> {
      await formOf(workspaceId, formId);
      if (rec.folderId !== 0) {
        const folder = await db('folders').where({ form_id: formId, id: rec.folderId }).first();
        if (!folder) throw new PlughostError('RECORD_NOT_FOUND', `form ${formId} has no folder ${rec.folderId}`);
      }
      const [row] = await db('records')
        .insert({ form_id: formId, folder_id: rec.folderId, name: rec.name, fields: JSON.stringify(rec.fields), created_at: now })
        .returning('id');
      return { id: Number(typeof row === 'object' ? row.id : row), formId, folderId: rec.folderId, name: rec.name, fields: rec.fields, createdAt: now };
    },
    async record(workspaceId: string, formId: number, id: number): Promise<DataRecord> {
      await formOf(workspaceId, formId);
      const row = await db('records').where({ form_id: formId, id }).first();
      if (!row) throw new PlughostError('RECORD_NOT_FOUND', `form ${formId} has no record ${id}`);
      return toRecord(row);
    },
    /** Changes what `change` names (its fields merge into the record's); null fields are removed. */
    async updateRecord(workspaceId: string, formId: number, id: number, change: { name?: string | undefined; folderId?: number | undefined; fields: Record<string, unknown> }): Promise<DataRecord> {
      await formOf(workspaceId, formId);
      return db.transaction(async (trx) => {
        const row = await trx('records').where({ form_id: formId, id }).forUpdate().first();
        if (!row) throw new PlughostError('RECORD_NOT_FOUND', `form ${formId} has no record ${id}`);
        if (change.folderId !== undefined && change.folderId !== 0 && !(await trx('folders').where({ form_id: formId, id: change.folderId }).first())) {
          throw new PlughostError('RECORD_NOT_FOUND', `form ${formId} has no folder ${change.folderId}`);
        }
        const rec = toRecord(row);
        const fields = { ...rec.fields, ...change.fields };
        for (const [k, v] of Object.entries(change.fields)) if (v === null) delete fields[k];
        const next = { ...rec, name: change.name ?? rec.name, folderId: change.folderId ?? rec.folderId, fields };
        await trx('records').where({ id }).update({ name: next.name, folder_id: next.folderId, fields: JSON.stringify(next.fields) });
        return next;
      });
    },
    async deleteRecord(workspaceId: string, formId: number, id: number): Promise<void> {
      await formOf(workspaceId, formId);
      const n = await db('records').where({ form_id: formId, id }).delete();
      if (n === 0) throw new PlughostError('RECORD_NOT_FOUND', `form ${formId} has no record ${id}`);
    },
  };
}

interface RecordRow { id: number; form_id: number; folder_id: number; name: string; fields: string; created_at: number }
function toRecord(r: RecordRow): DataRecord {
  return { id: Number(r.id), formId: Number(r.form_id), folderId: Number(r.folder_id), name: r.name, fields: JSON.parse(r.fields), createdAt: Number(r.created_at) };
}
export type WorkspaceDataTable = ReturnType<typeof workspaceDataTable>;
