// The host side of Haplo's P.db: each synchronous `{t: 'db'}` request from a plugin's guest
// is checked again here (the guest is plugin code's neighbour, so nothing it sends is
// trusted), the table is created or migrated on first use, and the store carries it out.
// Only an installation whose plugin.json lists the pDatabase privilege may use P.db.
import { PlughostError } from '../errors.ts';
import type { HostOptions } from '../options.ts';
import type { SandboxPlugin } from '../sandbox/types.ts';
import { FIELD_TYPES, MAX_FIELDS, type Clause, type FieldDef, type FieldType, type Query, type TableFields } from '../store/plugin-tables.ts';
import type { Store } from '../store/store.ts';

export interface DbRequest { t: 'db'; op: string; table: unknown; fields: unknown; rowId?: unknown; values?: unknown; query?: unknown }

const NAME = /^[a-z][a-zA-Z0-9]{0,45}$/;
const FIELD = /^[a-z][a-zA-Z0-9]{0,62}$/;
const MAX_CLAUSES = 100;
const MAX_DEPTH = 8;
const OPS = new Set(['=', '<', '>', '<=', '>=', '<>', 'LIKE']);
const TYPES = new Set<string>(FIELD_TYPES);

const invalid = (message: string) => new PlughostError('PLUGIN_DB_INVALID', message);

function checkFields(table: string, raw: unknown): TableFields {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`P.db.${table}: fields must be an object`);
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_FIELDS) throw invalid(`P.db.${table}: at most ${MAX_FIELDS} fields`);
  const lower = new Set<string>();
  const out: TableFields = {};
  for (const [name, def] of entries) {
    if (!FIELD.test(name) || name.toLowerCase() === 'id') throw invalid(`P.db.${table}: '${name.slice(0, 80)}' is not allowed as a field name`);
    if (lower.has(name.toLowerCase())) throw invalid(`P.db.${table}.${name} differs from another field name by case only`);
    lower.add(name.toLowerCase());
    const d = def as Record<string, unknown> | null;
    if (!d || typeof d !== 'object' || typeof d.type !== 'string' || !TYPES.has(d.type)) throw invalid(`P.db.${table}.${name}: unknown data type`);
    const f: FieldDef = { type: d.type as FieldType };
    if (d.nullable === true) f.nullable = true;
    if (d.indexed === true) f.indexed = true;
    if (d.uniqueIndex === true) f.uniqueIndex = true;
    if (Array.isArray(d.indexedWith)) f.indexedWith = d.indexedWith.map(String);
    if (f.type === 'link') {
      if (typeof d.linkedTable !== 'string' || !NAME.test(d.linkedTable)) throw invalid(`P.db.${table}.${name}: a link needs the name of the table it links to`);
      f.linkedTable = d.linkedTable;
    }
    out[name] = f;
  }
  for (const [name, f] of Object.entries(out)) {
    for (const other of f.indexedWith ?? []) if (!Object.hasOwn(out, other)) throw invalid(`P.db.${table}.${name}: indexedWith names ${other.slice(0, 80)}, which is not a field`);
  }
  return out;
}

/** A value as the column of `type` keeps it; anything else is refused before the store sees it. */
function checkValue(table: string, field: string, def: FieldDef | undefined, v: unknown, maxTextBytes: number): unknown {
  if (v === null) return null;
  const kind = def ? def.type : 'id';
  const whole = ['smallint', 'int', 'bigint', 'link', 'user', 'date', 'datetime', 'id'].includes(kind);
  if (whole ? typeof v === 'number' && Number.isSafeInteger(v)
    : kind === 'float' ? typeof v === 'number' && Number.isFinite(v)
      : kind === 'boolean' ? typeof v === 'boolean'
        : typeof v === 'string' && Buffer.byteLength(v) <= maxTextBytes) return v;
  throw invalid(`P.db.${table}.${field}: not a valid ${kind} value${typeof v === 'string' ? ` (or over ${maxTextBytes} bytes)` : ''}`);
}

function checkValues(table: string, fields: TableFields, raw: unknown, maxTextBytes: number): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`P.db.${table}: values must be an object`);
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!Object.hasOwn(fields, field)) throw invalid(`P.db.${table}: no field ${field.slice(0, 80)}`);
    if (v !== undefined) out[field] = checkValue(table, field, fields[field], v, maxTextBytes);
  }
  return out;
}

function checkClauses(table: string, fields: TableFields, raw: unknown, depth: number, count: { n: number }, maxTextBytes: number): Clause[] {
  if (!Array.isArray(raw)) throw invalid(`P.db.${table}: a query's where() list must be an array`);
  if (depth > MAX_DEPTH) throw invalid(`P.db.${table}: or()/and() nest at most ${MAX_DEPTH} deep`);
  return raw.map((c: Record<string, unknown>) => {
    if (++count.n > MAX_CLAUSES) throw invalid(`P.db.${table}: at most ${MAX_CLAUSES} where() clauses in a query`);
    if (c && (c.join === 'and' || c.join === 'or')) return { join: c.join, clauses: checkClauses(table, fields, c.clauses, depth + 1, count, maxTextBytes) };
    const field = String(c?.field);
    if (field !== 'id' && !Object.hasOwn(fields, field)) throw invalid(`P.db.${table}: no field ${field.slice(0, 80)}`);
    const op = String(c.op);
    if (!OPS.has(op)) throw invalid(`P.db.${table}: bad comparison operator ${op.slice(0, 20)}`);
    if (c.value === null && op !== '=' && op !== '<>') throw invalid(`P.db.${table}.${field}: only = and <> compare with null`);
    const def = field === 'id' ? undefined : fields[field];
    if (op === 'LIKE' && (def?.type !== 'text' || typeof c.value !== 'string' || c.value === '' || c.value[0] === '%' || c.value[0] === '_')) {
      throw invalid(`P.db.${table}.${field}: LIKE compares a text field with a pattern that does not start with a wildcard`);
    }
    return { field, op: op as '=', value: checkValue(table, field, def, c.value, maxTextBytes) };
  });
}

function checkQuery(table: string, fields: TableFields, raw: unknown, maxTextBytes: number): Query {
  const q = (raw ?? {}) as Record<string, unknown>;
  const order = Array.isArray(q.order) ? q.order : [];
  if (order.length > 16) throw invalid(`P.db.${table}: at most 16 order() fields`);
  const int = (v: unknown, what: string) => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`P.db.${table}: ${what} must be a whole number, not negative`);
    return v;
  };
  return {
    where: checkClauses(table, fields, q.where ?? [], 0, { n: 0 }, maxTextBytes),
    order: order.map((o: Record<string, unknown>) => {
      const field = String(o?.field);
      if (field !== 'id' && !Object.hasOwn(fields, field)) throw invalid(`P.db.${table}: no field ${field.slice(0, 80)} to order by`);
      return { field, desc: o.desc === true };
    }),
    limit: int(q.limit, 'limit'),
    offset: int(q.offset, 'offset'),
  };
}

export function createPluginDb(deps: { store: Store; options: HostOptions; now: () => number }) {
  const { store, options, now } = deps;
  /** Declarations this process has made real (`installation/table/fields JSON`), so each costs the store one check. Bounded: cleared when full. */
  const ensured = new Set<string>();
  const MAX_ENSURED = 10_000;
  const limits = () => options.limits;

  const ensure = async (plugin: SandboxPlugin, table: string, fields: TableFields) => {
    const key = `${plugin.installationId}/${table}/${JSON.stringify(fields)}`;
    if (ensured.has(key)) return;
    await store.pluginTables.ensure(plugin.installationId, table, fields, limits().dbTables, now());
    if (ensured.size >= MAX_ENSURED) ensured.clear();
    ensured.add(key);
  };

  return {
    /** Answers one P.db request from `plugin`'s guest. */
    async handle(plugin: SandboxPlugin, request: DbRequest): Promise<unknown> {
      if (!plugin.manifest.haplo?.privileges.includes('pDatabase')) {
        throw new PlughostError('FORBIDDEN', 'This plugin was not declared to use a database in plugin.json. Add the "pDatabase" privilege to the "privilegesRequired" array.');
      }
      const table = String(request.table);
      if (!NAME.test(table)) throw invalid(`'${table.slice(0, 80)}' is not allowed as a table name (a-z, then a-zA-Z0-9, at most 46 characters)`);
      const fields = checkFields(table, request.fields);
      await ensure(plugin, table, fields);
      const inst = plugin.installationId;
      const maxText = limits().dbRowBytes;
      const id = () => {
        if (typeof request.rowId !== 'number' || !Number.isSafeInteger(request.rowId)) throw invalid(`P.db.${table}: a row id is a whole number`);
        return request.rowId;
      };
      const rowValues = () => {
        const values = checkValues(table, fields, request.values, maxText);
        const bytes = Buffer.byteLength(JSON.stringify(values));
        if (bytes > maxText) {
          throw new PlughostError('PLUGIN_LIMIT', `P.db.${table}: a row of ${bytes} bytes is over the limit of ${maxText} (limits.dbRowBytes)`, { details: { limit: 'dbRowBytes', max: maxText } });
        }
        return values;
      };
      switch (request.op) {
        case 'insert': return store.pluginTables.insert(inst, table, rowValues(), limits().dbRows);
        case 'update': {
          // The row as it will be, not only the change, is what dbRowBytes bounds.
          const rowId = id();
          const change = rowValues();
          const current = await store.pluginTables.load(inst, table, fields, rowId);
          if (!current) return false;
          const { id: _id, ...stored } = current;
          const bytes = Buffer.byteLength(JSON.stringify({ ...stored, ...change }));
          if (bytes > maxText) {
            throw new PlughostError('PLUGIN_LIMIT', `P.db.${table}: the row would be ${bytes} bytes, over the limit of ${maxText} (limits.dbRowBytes)`, { details: { limit: 'dbRowBytes', max: maxText } });
          }
          return store.pluginTables.update(inst, table, rowId, change);
        }
        case 'delete': return (await store.pluginTables.deleteWhere(inst, table, { where: [{ field: 'id', op: '=', value: id() }], order: [] })) > 0;
        case 'load': return store.pluginTables.load(inst, table, fields, id());
        case 'select': return store.pluginTables.select(inst, table, fields, checkQuery(table, fields, request.query, maxText), limits().dbSelectRows, options.sandbox.maxResultBytes);
        case 'count': return store.pluginTables.count(inst, table, checkQuery(table, fields, request.query, maxText));
        case 'deleteAll': return store.pluginTables.deleteWhere(inst, table, checkQuery(table, fields, request.query, maxText));
        case 'updateAll': return store.pluginTables.updateWhere(inst, table, checkQuery(table, fields, request.query, maxText), rowValues());
        default: throw invalid(`P.db has no operation ${String(request.op).slice(0, 40)}`);
      }
    },
  };
}
export type PluginDb = ReturnType<typeof createPluginDb>;
