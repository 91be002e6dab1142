// The workspace data API (forms, folders, records) in Zengine's shape. One implementation
// serves both the admin REST paths (`/api/v1/workspaces/:ws/forms…`) and plugins' `zn-http`
// calls with a relative path, which run in-process for the calling workspace only.
import { z } from 'zod';
import { PlughostError } from './errors.ts';
import type { Store } from './store/store.ts';
import type { DataRecord } from './store/workspace-data.ts';

export interface DataRequest { method: string; path: string; query: Record<string, unknown>; body: unknown }
export interface DataResponse { status: number; body: unknown }

const RESERVED_FIELDS = new Set(['id', 'name', 'folder', 'form', 'createdAt']);
const named = z.object({ name: z.string().trim().min(1).max(200) }).strict();
const recordInput = z.object({
  name: z.string().trim().min(1).max(500),
  folder: z.object({ id: z.number().int().min(0) }).strict().optional(),
  fields: z.record(z.string().min(1).max(100), z.unknown()).optional(),
}).strict();

function publicRecord(r: DataRecord): Record<string, unknown> {
  return { ...r.fields, id: r.id, name: r.name, folder: { id: r.folderId }, form: { id: r.formId }, createdAt: new Date(r.createdAt).toISOString() };
}

// A PUT as Zengine's clients send it: `name`, `folder: {id}`, and field values either under
// `fields` or at the top level (`{field123: 'x'}`, as records are read); null removes a field.
const recordPatch = z.object({
  name: z.string().trim().min(1).max(500).optional(),
  folder: z.object({ id: z.number().int().min(0) }).strict().optional(),
  fields: z.record(z.string().min(1).max(100), z.unknown()).optional(),
}).catchall(z.unknown());

function recordChange(body: unknown): { name?: string | undefined; folderId?: number | undefined; fields: Record<string, unknown> } {
  const { name, folder, fields, ...rest } = parse(recordPatch, body ?? {});
  const top = Object.fromEntries(Object.entries(rest).filter(([k]) => !RESERVED_FIELDS.has(k)));
  const all = { ...top, ...(fields ?? {}) };
  const clash = Object.keys(fields ?? {}).filter((k) => RESERVED_FIELDS.has(k));
  if (clash.length) throw new PlughostError('INVALID_BODY', `fields may not be named ${clash.join(', ')}`);
  if (Object.keys(all).some((k) => k.length > 100)) throw new PlughostError('INVALID_BODY', 'field names are at most 100 characters');
  return { name, folderId: folder?.id, fields: all };
}

function intParam(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new PlughostError('INVALID_QUERY', `\`${name}\` must be an integer from ${min} to ${max}`);
  return n;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  throw new PlughostError('INVALID_BODY', `the body has ${details.length} problem(s): ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, { details });
}

const ok = (body: Record<string, unknown>, status = 200): DataResponse => ({ status, body: { status, code: status * 10, ...body } });

export function createDataApi(store: Store, now: () => number) {
  return {
    async handle(workspaceId: string, req: DataRequest): Promise<DataResponse> {
      const url = new URL(req.path, 'http://data.invalid');
      const query: Record<string, unknown> = { ...Object.fromEntries(url.searchParams), ...req.query };
      const parts = url.pathname.split('/').filter(Boolean);
      const method = req.method.toUpperCase();
      if (parts[0] !== 'forms' || parts.length > 4 || (parts.length === 4 && parts[2] !== 'records')) {
        throw new PlughostError('NOT_FOUND', `no data API path ${url.pathname}; use /forms, /forms/:id, /forms/:id/folders, /forms/:id/records or /forms/:id/records/:id`);
      }
      if (parts.length === 1) {
        if (method === 'GET') {
          const forms = await store.data.listForms(workspaceId);
          return ok({ totalCount: forms.length, data: forms });
        }
        if (method === 'POST') return ok({ data: await store.data.createForm(workspaceId, parse(named, req.body).name) }, 201);
      } else {
        const formId = intParam(parts[1], 'form id', 1, 2 ** 31 - 1, 0);
        if (parts.length === 2 && method === 'GET') return ok({ data: await store.data.formOf(workspaceId, formId) });
        if (parts[2] === 'folders') {
          if (method === 'GET') {
            const folders = await store.data.listFolders(workspaceId, formId);
            return ok({ totalCount: folders.length, data: folders });
          }
          if (method === 'POST') return ok({ data: await store.data.createFolder(workspaceId, formId, parse(named, req.body).name) }, 201);
        }
        if (parts[2] === 'records' && parts.length === 4) {
          const recordId = intParam(parts[3], 'record id', 1, 2 ** 53 - 1, 0);
          if (method === 'GET') return ok({ data: publicRecord(await store.data.record(workspaceId, formId, recordId)) });
          if (method === 'PUT') return ok({ data: publicRecord(await store.data.updateRecord(workspaceId, formId, recordId, recordChange(req.body))) });
          if (method === 'DELETE') {
            await store.data.deleteRecord(workspaceId, formId, recordId);
            return ok({});
          }
        } else if (parts[2] === 'records') {
          if (method === 'GET') {
            const limit = intParam(query.limit, 'limit', 1, 500, 20);
            const page = intParam(query.page, 'page', 1, 1_000_000, 1);
            const folderId = query['folder.id'] === undefined ? undefined : intParam(query['folder.id'], 'folder.id', 0, 2 ** 31 - 1, 0);
            const result = await store.data.listRecords(workspaceId, formId, { folderId, limit, offset: (page - 1) * limit });
            return ok({ totalCount: result.totalCount, limit, offset: (page - 1) * limit, data: result.data.map(publicRecord) });
          }
          if (method === 'POST') {
            const input = parse(recordInput, req.body);
            const clash = Object.keys(input.fields ?? {}).filter((k) => RESERVED_FIELDS.has(k));
            if (clash.length) throw new PlughostError('INVALID_BODY', `fields may not be named ${clash.join(', ')}`);
            const rec = await store.data.createRecord(workspaceId, formId, { name: input.name, folderId: input.folder?.id ?? 0, fields: input.fields ?? {} }, now());
            return ok({ data: publicRecord(rec) }, 201);
          }
        }
      }
      throw new PlughostError('METHOD_NOT_ALLOWED', `${method} is not supported on ${url.pathname}`);
    },
  };
}
export type DataApi = ReturnType<typeof createDataApi>;
