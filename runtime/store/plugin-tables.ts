// Haplo's P.db on the store: each table an installation declares is a real table of the
// store (`pdb_<installation hash>_<name>`), created when the plugin first uses it and
// migrated when its declaration grows (new fields become new columns; a field's type never
// changes under data). Rows have an integer `id`; every column but `id` is nullable in the
// database, since which fields may be null is the plugin's declaration, checked in the guest.
//
// Writes that add rows lock the installation's `plugin_db_usage` row first (FOR UPDATE on
// PostgreSQL; SQLite has one writer), so `limits.dbRows` holds exactly under racing writers.
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { PlughostError } from '../errors.ts';

export const FIELD_TYPES = ['text', 'datetime', 'date', 'time', 'boolean', 'smallint', 'int', 'bigint', 'float', 'numeric', 'json', 'ref', 'user', 'file', 'labelList', 'link'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface FieldDef { type: FieldType; nullable?: boolean; indexed?: boolean; uniqueIndex?: boolean; indexedWith?: string[]; linkedTable?: string }
export type TableFields = Record<string, FieldDef>;

/** One where() of a select, or a group of them joined by `and` or `or` (Haplo's `q.or(fn)`). */
export type Clause = { field: string; op: '=' | '<' | '>' | '<=' | '>=' | '<>' | 'LIKE'; value: unknown } | { join: 'and' | 'or'; clauses: Clause[] };
export interface Query { where: Clause[]; order: Array<{ field: string; desc: boolean }>; limit?: number; offset?: number }

export type Row = Record<string, unknown> & { id: number };

/** Fields one table may have in all (the declarations of every version together). */
export const MAX_FIELDS = 100;

/** How a field's values are kept: numbers for dates (epoch ms), links and users. */
const COLUMN: Record<FieldType, 'text' | 'bigint' | 'integer' | 'boolean' | 'double'> = {
  text: 'text', json: 'text', ref: 'text', file: 'text', labelList: 'text', time: 'text', numeric: 'text',
  datetime: 'bigint', date: 'bigint', bigint: 'bigint',
  smallint: 'integer', int: 'integer', user: 'integer', link: 'integer',
  boolean: 'boolean', float: 'double',
};

const hash = (text: string, n: number) => crypto.createHash('sha256').update(text).digest('hex').slice(0, n);
export const physicalName = (installationId: string, name: string) => `pdb_${hash(installationId, 12)}_${name.toLowerCase()}`;
/** Columns are the field names in lower case (the declaration refuses names differing by case only). */
const column = (field: string) => (field === 'id' ? 'id' : field.toLowerCase());
const indexName = (table: string, fields: string[]) => `pdbi_${hash(`${table}:${fields.join(',')}`, 20)}`;

function addColumn(t: Knex.CreateTableBuilder, field: string, def: FieldDef): void {
  const c = column(field);
  const kind = COLUMN[def.type];
  if (kind === 'text') t.text(c);
  else if (kind === 'bigint') t.bigInteger(c);
  else if (kind === 'integer') t.integer(c);
  else if (kind === 'boolean') t.boolean(c);
  else t.double(c);
}

/** The indexes a declaration asks for (of `only`'s fields, when given), made if absent: safe to repeat, inside a transaction too. */
async function addIndexes(trx: Knex.Transaction, table: string, fields: TableFields, only?: Set<string>): Promise<void> {
  for (const [field, def] of Object.entries(fields)) {
    if (only && !only.has(field)) continue;
    const cols = [field, ...(def.indexedWith ?? [])].map(column);
    const unique = Boolean(def.uniqueIndex);
    if (!unique && !(def.indexed || def.indexedWith?.length || def.type === 'link')) continue;
    await trx.raw(`CREATE ${unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ?? ON ?? (${cols.map(() => '??').join(', ')})`, [indexName(table, cols), table, ...cols]);
  }
}

const indexKey = (def: FieldDef | undefined) => (def ? JSON.stringify([Boolean(def.uniqueIndex), Boolean(def.indexed || def.indexedWith?.length || def.type === 'link'), def.indexedWith ?? []]) : '');

/** The knex where() tree of a select (fields become their columns). */
function applyClauses(q: Knex.QueryBuilder, clauses: Clause[], join: 'and' | 'or'): void {
  for (const clause of clauses) {
    const method = join === 'and' ? 'where' : 'orWhere';
    if ('join' in clause) {
      q[method]((sub) => applyClauses(sub, clause.clauses, clause.join));
    } else if (clause.value === null) {
      if (clause.op === '=') q[join === 'and' ? 'whereNull' : 'orWhereNull'](column(clause.field));
      else q[join === 'and' ? 'whereNotNull' : 'orWhereNotNull'](column(clause.field));
    } else {
      q[method](column(clause.field), clause.op === 'LIKE' ? 'like' : clause.op, clause.value as Knex.Value);
    }
  }
}

/** Booleans come back from SQLite as 0/1, big integers from PostgreSQL as strings. */
function rowOut(raw: Record<string, unknown>, fields: TableFields): Row {
  const out: Row = { id: Number(raw.id) };
  for (const [field, def] of Object.entries(fields)) {
    const v = raw[column(field)];
    const kind = COLUMN[def.type];
    out[field] = v === null || v === undefined ? null : kind === 'boolean' ? Boolean(v) : kind === 'bigint' || kind === 'integer' || kind === 'double' ? Number(v) : v;
  }
  return out;
}

function valuesIn(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(values)) out[column(field)] = v;
  return out;
}

function constraint(err: unknown, table: string): never {
  const e = err as { code?: string; message?: string };
  // 23505: PostgreSQL's unique_violation; SQLite says SQLITE_CONSTRAINT.
  if (e.code === '23505' || e.code === 'SQLITE_CONSTRAINT' || e.code === 'SQLITE_CONSTRAINT_UNIQUE') {
    throw new PlughostError('PLUGIN_DB_CONSTRAINT', `P.db.${table}: a row with these values exists (unique index)`, { cause: err });
  }
  throw err;
}

export function pluginTablesStore(db: Knex) {
  const isPg = db.client.config.client === 'pg';

  const lockUsage = async (trx: Knex.Transaction, installationId: string) => {
    await trx('plugin_db_usage').insert({ installation_id: installationId, row_count: 0 }).onConflict('installation_id').ignore();
    const q = trx('plugin_db_usage').where({ installation_id: installationId });
    if (isPg) q.forUpdate();
    return Number((await q.first()).row_count);
  };
  const addRows = (trx: Knex.Transaction, installationId: string, n: number) =>
    trx('plugin_db_usage').where({ installation_id: installationId }).increment('row_count', n);

  return {
    /**
     * Makes the table `name` of an installation hold `fields`: creates it, or adds what the
     * declaration gained. Refuses a field whose type changed, and a table past `maxTables`.
     */
    async ensure(installationId: string, name: string, fields: TableFields, maxTables: number, now: number): Promise<void> {
      const physical = physicalName(installationId, name);
      const json = JSON.stringify(fields);
      await db.transaction(async (trx) => {
        // One installation's declarations one at a time: its table count, and each table's columns.
        if (isPg) await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`plughost-pdb:${installationId}`]);
        const row = await trx('plugin_tables').where({ installation_id: installationId, name }).first();
        if (row?.fields === json) return;
        if (!row) {
          const clash = await trx('plugin_tables').where({ physical_name: physical }).first('name');
          if (clash) throw new PlughostError('PLUGIN_DB_INVALID', `P.db.table("${name}"): table ${clash.name} differs from it by case only`);
          const { n } = (await trx('plugin_tables').where({ installation_id: installationId }).count({ n: '*' }).first()) as { n: number | string };
          if (Number(n) >= maxTables) {
            throw new PlughostError('PLUGIN_LIMIT', `P.db.table("${name}"): this installation has ${n} tables, its limit (limits.dbTables)`, { details: { limit: 'dbTables', max: maxTables } });
          }
          await trx.schema.createTable(physical, (t) => {
            t.increments('id').primary();
            for (const [field, def] of Object.entries(fields)) addColumn(t, field, def);
          });
          await addIndexes(trx, physical, fields);
          await trx('plugin_tables').insert({ installation_id: installationId, name, physical_name: physical, fields: json, updated_at: now });
          return;
        }
        const old = JSON.parse(row.fields) as TableFields;
        const merged = { ...old, ...fields };
        if (Object.keys(merged).length > MAX_FIELDS) {
          throw new PlughostError('PLUGIN_DB_INVALID', `P.db.${name} would have ${Object.keys(merged).length} fields with the ones declared before; at most ${MAX_FIELDS}`);
        }
        for (const [field, def] of Object.entries(fields)) {
          const was = Object.hasOwn(old, field) ? old[field] : undefined;
          if (was && was.type !== def.type) {
            throw new PlughostError('PLUGIN_DB_INVALID', `P.db.${name}.${field} was declared ${was.type} and is now ${def.type}; plughost adds fields to a table but does not change a field's type (use a new field name)`);
          }
          const clash = was ? undefined : Object.keys(old).find((f) => f.toLowerCase() === field.toLowerCase());
          if (clash) throw new PlughostError('PLUGIN_DB_INVALID', `P.db.${name}.${field} differs from the field ${clash} declared before by case only; use another name`);
        }
        const added = Object.keys(fields).filter((f) => !Object.hasOwn(old, f));
        const reindexed = new Set(Object.keys(fields).filter((f) => indexKey(fields[f]) !== indexKey(Object.hasOwn(old, f) ? old[f] : undefined) && indexKey(fields[f]) !== indexKey(undefined)));
        await trx.schema.alterTable(physical, (t) => {
          for (const field of added) addColumn(t, field, fields[field]!);
        });
        if (reindexed.size > 0) await addIndexes(trx, physical, fields, reindexed);
        // Fields no longer declared keep their columns (and data): a plugin can declare them again.
        await trx('plugin_tables').where({ installation_id: installationId, name }).update({ fields: JSON.stringify(merged), updated_at: now });
      });
    },

    async insert(installationId: string, name: string, values: Record<string, unknown>, maxRows: number): Promise<number> {
      const physical = physicalName(installationId, name);
      return db.transaction(async (trx) => {
        const used = await lockUsage(trx, installationId);
        if (used >= maxRows) {
          throw new PlughostError('PLUGIN_LIMIT', `P.db is full: this installation keeps ${used} rows, its limit (limits.dbRows); delete rows before adding new ones`, { details: { limit: 'dbRows', max: maxRows, used } });
        }
        let id: number;
        try {
          const [out] = await trx(physical).insert(valuesIn(values), ['id']);
          id = Number(typeof out === 'object' ? (out as { id: number }).id : out);
        } catch (err) {
          constraint(err, name);
        }
        await addRows(trx, installationId, 1);
        return id;
      });
    },

    async update(installationId: string, name: string, id: number, values: Record<string, unknown>): Promise<boolean> {
      if (Object.keys(values).length === 0) return true;
      try {
        return (await db(physicalName(installationId, name)).where({ id }).update(valuesIn(values))) > 0;
      } catch (err) {
        return constraint(err, name);
      }
    },

    async load(installationId: string, name: string, fields: TableFields, id: number): Promise<Row | null> {
      const raw = await db(physicalName(installationId, name)).where({ id }).first(['id', ...Object.keys(fields).map(column)]);
      return raw ? rowOut(raw, fields) : null;
    },

    /** The rows a select names, at most `max` and `maxBytes` of JSON (more is an error, not a silent cut). */
    async select(installationId: string, name: string, fields: TableFields, query: Query, max: number, maxBytes: number): Promise<Row[]> {
      const q = db(physicalName(installationId, name)).select(['id', ...Object.keys(fields).map(column)]);
      applyClauses(q, query.where, 'and');
      for (const o of query.order) q.orderBy(column(o.field), o.desc ? 'desc' : 'asc');
      q.orderBy('id', 'asc'); // ties (and no order at all) come back in a stable order
      const limit = query.limit === undefined ? max + 1 : Math.min(query.limit, max + 1);
      q.limit(limit);
      if (query.offset) q.offset(query.offset);
      const rows = await q;
      if (rows.length > max) {
        throw new PlughostError('PLUGIN_LIMIT', `P.db.${name}: this select returns more than ${max} rows (limits.dbSelectRows); give it a limit() and page with offset()`, { details: { limit: 'dbSelectRows', max } });
      }
      const out: Row[] = [];
      let bytes = 0;
      for (const raw of rows as Array<Record<string, unknown>>) {
        const row = rowOut(raw, fields);
        bytes += Buffer.byteLength(JSON.stringify(row)) + 1;
        if (bytes > maxBytes) {
          throw new PlughostError('PLUGIN_LIMIT', `P.db.${name}: this select's rows are over ${maxBytes} bytes of JSON (the result limit); give it a limit() and page with offset()`, { details: { limit: 'maxResultBytes', max: maxBytes } });
        }
        out.push(row);
      }
      return out;
    },

    async count(installationId: string, name: string, query: Query): Promise<number> {
      const q = db(physicalName(installationId, name));
      applyClauses(q, query.where, 'and');
      const { n } = (await q.count({ n: '*' }).first()) as { n: number | string };
      return Number(n);
    },

    /** Deletes the rows a select names (its order and limit do not narrow a deleteAll, as in Haplo). */
    async deleteWhere(installationId: string, name: string, query: Query): Promise<number> {
      return db.transaction(async (trx) => {
        await lockUsage(trx, installationId);
        const q = trx(physicalName(installationId, name));
        applyClauses(q, query.where, 'and');
        const n = await q.delete();
        if (n > 0) await addRows(trx, installationId, -n);
        return n;
      });
    },

    async updateWhere(installationId: string, name: string, query: Query, values: Record<string, unknown>): Promise<number> {
      const q = db(physicalName(installationId, name));
      applyClauses(q, query.where, 'and');
      try {
        return await q.update(valuesIn(values));
      } catch (err) {
        return constraint(err, name);
      }
    },

    /** Rows kept by an installation in all its tables (the dbRows quota's count). */
    async usage(installationId: string): Promise<number> {
      const row = await db('plugin_db_usage').where({ installation_id: installationId }).first();
      return Number(row?.row_count ?? 0);
    },

    /** Drops every table of an installation (it is being uninstalled). */
    async dropAll(installationId: string): Promise<void> {
      const rows: Array<{ physical_name: string }> = await db('plugin_tables').where({ installation_id: installationId }).select('physical_name');
      for (const r of rows) await db.schema.dropTableIfExists(r.physical_name);
      await db('plugin_tables').where({ installation_id: installationId }).delete();
      await db('plugin_db_usage').where({ installation_id: installationId }).delete();
    },
  };
}
export type PluginTables = ReturnType<typeof pluginTablesStore>;
