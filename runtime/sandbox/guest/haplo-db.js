// Guest P.db, as Haplo gives it to a plugin with the pDatabase privilege: `P.db.table(name,
// fields, methods)` declares a table; `P.db.<name>` then has `create(values)` (a row to fill in
// and `save()`), `load(id)` (the row or null) and `select()`, a query built with `where`,
// `or`, `and`, `order`, `stableOrder`, `limit` and `offset`, run when first read (`length`,
// `[i]`, `each`, iteration) and then fixed; `count()`, `deleteAll()` and `update(values)` run
// it at once. Rows have `id`, a getter and a type-checking setter per field, `save()` and
// `deleteObject()`. Every read or write is one synchronous call to the host, as in Haplo,
// counted against the run's guestMessages budget.

const DB_NAME = /^[a-z][a-zA-Z0-9]*$/;
const DB_TYPES = new Set(['text', 'datetime', 'date', 'time', 'boolean', 'smallint', 'int', 'bigint', 'float', 'numeric', 'json', 'ref', 'user', 'file', 'labelList', 'link']);
const DB_COMPARISONS = new Set(['=', '<', '>', '<=', '>=', '<>', 'LIKE']);
const DateCtor = Date;
const NumberIsFinite = Number.isFinite;
const NumberIsInteger = Number.isInteger;

function dbError(message) {
  const err = new ErrorCtor(message);
  err.code = 'PLUGIN_DB_INVALID';
  return err;
}

/** One synchronous P.db call to the host, within the run's message budget. */
function dbCall(request) {
  return countedSync({ ...request, t: 'db' });
}

/** What a field's value is in the store: dates as epoch ms, links and users as ids. */
function toStored(table, field, def, value) {
  const label = table.name + '.' + field;
  if (value === null || value === undefined) return null;
  switch (def.type) {
    case 'text':
      if (typeof value !== 'string') throw new TypeError(label + ' must be a string');
      return value;
    case 'date':
    case 'datetime':
      if (value !== null && typeof value === 'object' && typeof value.toDate === 'function') value = value.toDate(); // XDate
      if (!(value instanceof DateCtor) || !NumberIsFinite(value.getTime())) throw new TypeError(label + ' must be a Date');
      return value.getTime();
    case 'boolean':
      if (value !== true && value !== false) throw new TypeError(label + ' must be true or false');
      return value;
    case 'smallint':
    case 'int':
    case 'bigint':
      if (typeof value !== 'number' || !NumberIsInteger(value)) throw new TypeError(label + ' must be a whole number');
      return value;
    case 'float':
      if (typeof value !== 'number' || !NumberIsFinite(value)) throw new TypeError(label + ' must be a number');
      return value;
    case 'json':
      if (typeof value !== 'object') throw new TypeError(label + ' must be a JSON compatible object');
      return jsonStringify(value);
    case 'link': {
      if (typeof value === 'number' && NumberIsInteger(value)) return value;
      if (value !== null && typeof value === 'object' && value.$table !== undefined) {
        if (value.$table.name !== (def.linkedTable || field)) throw new TypeError('Other database object must be in the ' + (def.linkedTable || field) + ' table');
        if (value.id === undefined) throw new TypeError(label + ': the linked row has not been saved');
        return value.id;
      }
      throw new TypeError(label + ' must be a database object or a number');
    }
    case 'user':
      if (typeof value === 'number' && NumberIsInteger(value)) return value;
      if (value !== null && typeof value === 'object' && typeof value.id === 'number') return value.id;
      throw new TypeError(label + ' must be a User object');
    default:
      // time (DBTime), numeric (BigDecimal), ref, file and labelList need Haplo objects plughost does not provide.
      return unsupported('P.db field type "' + def.type + '" (' + label + ')')();
  }
}

/** Checks a declaration as Haplo does, before anything reaches the host. */
function checkDeclaration(name, fields) {
  if (typeof name !== 'string' || !DB_NAME.test(name)) throw dbError("Database table or column name '" + name + "' is not allowed. Names must begin with a-z and be composed of a-zA-Z0-9 only.");
  if (fields === null || typeof fields !== 'object') throw dbError('P.db.table("' + name + '", fields) takes an object of field definitions');
  const lower = ObjectCreate(null);
  const out = {};
  for (const field of ObjectKeys(fields)) {
    const def = fields[field];
    if (field.toLowerCase() === 'id') throw dbError("'id' is not allowed as field name.");
    if (!DB_NAME.test(field)) throw dbError("Database table or column name '" + field + "' is not allowed. Names must begin with a-z and be composed of a-zA-Z0-9 only.");
    if (lower[field.toLowerCase()]) throw dbError('Field name ' + name + '.' + field + ' differs from another field name by case only.');
    lower[field.toLowerCase()] = true;
    if (def === null || typeof def !== 'object' || typeof def.type !== 'string') throw dbError('Bad field definition ' + name + '.' + field);
    if (!SetHas(DB_TYPES, def.type)) throw dbError("Unknown data type '" + def.type + "' in field definition for " + name + '.' + field);
    const copy = { type: def.type };
    if (def.nullable) copy.nullable = true;
    if (def.indexed) copy.indexed = true;
    if (def.uniqueIndex) copy.uniqueIndex = true;
    if (ArrayIsArray(def.indexedWith)) copy.indexedWith = def.indexedWith.map(StringCtor);
    if (def.type === 'link') copy.linkedTable = typeof def.linkedTable === 'string' ? def.linkedTable : field;
    out[field] = copy;
  }
  for (const field of ObjectKeys(out)) {
    for (const other of out[field].indexedWith || []) {
      if (!(other in out)) throw dbError('Field ' + other + ' was requested in index for field ' + field + ' but does not exist in table');
    }
  }
  return ObjectFreeze(out);
}

function createPluginDb() {
  const ns = {};
  ObjectDefineProperty(ns, 'table', {
    value(name, fields, methods) {
      if (ns[name] !== undefined) throw dbError("Database table '" + name + "' has already been declared.");
      ns[name] = defineTable(ns, name, checkDeclaration(name, fields), methods);
    },
  });
  return ns;
}

/** A plugin without pDatabase gets this, as in Haplo. */
function createDeniedDb() {
  const ns = {};
  ObjectDefineProperty(ns, 'table', {
    value() { throw new ErrorCtor('This plugin was not declared to use a database in plugin.json. Add the "pDatabase" privilege to the "privilegesRequired" array.'); },
  });
  return ns;
}

function defineTable(ns, name, fields, methods) {
  const table = { name, namespace: ns };
  const base = { table: name, fields };
  const rowFromStored = (stored) => {
    const row = new Row();
    row.id = stored.id;
    for (const field of ObjectKeys(fields)) row.$values[field] = stored[field];
    return row;
  };

  function Row(initial) {
    ObjectDefineProperty(this, '$values', { value: {}, writable: true });
    ObjectDefineProperty(this, '$changes', { value: {}, writable: true });
    ObjectDefineProperty(this, '$cache', { value: {}, writable: true });
    for (const field of ObjectKeys(fields)) this.$values[field] = fields[field].nullable ? null : undefined;
    if (initial !== undefined && initial !== null) {
      for (const key of ObjectKeys(initial)) this[key] = initial[key];
    }
  }
  const proto = Row.prototype;
  ObjectDefineProperty(proto, '$table', { value: table });
  ObjectDefineProperty(proto, 'save', {
    value() {
      if (this.id === undefined) {
        for (const field of ObjectKeys(fields)) {
          const v = this.$values[field];
          if (!fields[field].nullable && (v === null || v === undefined)) throw new ErrorCtor(field + ' cannot be null');
        }
        this.id = dbCall({ ...base, op: 'insert', values: { ...this.$values } });
      } else if (ObjectKeys(this.$changes).length > 0) {
        dbCall({ ...base, op: 'update', rowId: this.id, values: this.$changes });
      }
      this.$changes = {};
      return this;
    },
  });
  ObjectDefineProperty(proto, 'deleteObject', {
    value() { return this.id === undefined ? false : dbCall({ ...base, op: 'delete', rowId: this.id }); },
  });
  for (const field of ObjectKeys(fields)) {
    const def = fields[field];
    ObjectDefineProperty(proto, field, {
      enumerable: true,
      get() {
        const v = this.$values[field];
        if (v === null || v === undefined) return v;
        if (def.type === 'date' || def.type === 'datetime') return new DateCtor(v);
        if (def.type === 'json') {
          if (!(field in this.$cache)) this.$cache[field] = jsonParse(v);
          return this.$cache[field];
        }
        if (def.type === 'link') {
          if (!(field in this.$cache)) {
            const other = ns[def.linkedTable];
            if (other === undefined) throw dbError('Table name ' + def.linkedTable + ' has not been defined yet.');
            this.$cache[field] = other.load(v);
          }
          return this.$cache[field];
        }
        if (def.type === 'user') return globalThis.O.user(v);
        return v;
      },
      set(value) {
        if (value === null && !def.nullable) throw new TypeError(field + ' cannot be null');
        const stored = toStored(table, field, def, value);
        this.$values[field] = stored;
        this.$changes[field] = stored;
        delete this.$cache[field];
        if (def.type === 'link' && value !== null && typeof value === 'object') this.$cache[field] = value;
      },
    });
  }
  if (typeof methods === 'function') methods(proto);
  else if (methods !== undefined && methods !== null) for (const key of ObjectKeys(methods)) proto[key] = methods[key];

  table.create = (values) => new Row(values);
  table.load = (id) => {
    if (typeof id !== 'number' || !NumberIsInteger(id)) throw new TypeError('P.db.' + name + '.load(id) takes a whole number');
    const stored = dbCall({ ...base, op: 'load', rowId: id });
    return stored === null ? null : rowFromStored(stored);
  };
  table.select = () => createSelect(base, fields, rowFromStored);
  return ObjectFreeze(table);
}

/** The value a where() compares with, as the store holds it. */
function whereValue(base, fields, field, op, value) {
  if (!SetHas(DB_COMPARISONS, op)) throw dbError("Bad comparison operator '" + op + "'");
  if (field !== 'id' && !(field in fields)) throw dbError("Bad field '" + field + "' for table '" + base.table + "'");
  if (value === null || value === undefined) {
    if (op !== '=' && op !== '<>') throw dbError("Can't use a comparison other than = for a null value (in field " + field + ')');
    return null;
  }
  if (field === 'id') {
    if (typeof value !== 'number') throw dbError("Comparison value for field 'id' must be a number");
    return value;
  }
  const def = fields[field];
  if ((def.type === 'link' || def.type === 'user') && op !== '=' && op !== '<>') throw dbError('Link fields can only use the = and <> comparisons in where clauses.');
  if (def.type === 'json') throw dbError('JSON fields cannot be used in where() clauses');
  if (op === 'LIKE') {
    if (def.type !== 'text' || typeof value !== 'string' || value.length < 1) throw dbError('Value for a LIKE where clause must be a string at least one character long.');
    if (value[0] === '_' || value[0] === '%') throw dbError('Value for a LIKE clause may not have a wildcard as the first character.');
  }
  return toStored({ name: base.table }, field, def, value);
}

/** where/or/and of one clause (a select's own, or a sub-clause of `or(fn)` / `and(fn)`). */
function clauseMethods(target, base, fields, clauses, check) {
  target.where = function (field, comparison, value) {
    check();
    const op = comparison === '!=' ? '<>' : comparison;
    clauses.push({ field: StringCtor(field), op, value: whereValue(base, fields, StringCtor(field), op, value) });
    return this;
  };
  const group = (join) => function (fn) {
    check();
    if (typeof fn !== 'function') throw new TypeError(join + '() takes a function that adds where() clauses to its argument');
    const sub = { join, clauses: [] };
    const builder = {};
    clauseMethods(builder, base, fields, sub.clauses, check);
    fn(builder);
    if (sub.clauses.length === 0) throw dbError('Sub-clauses must have at least one where() clause.');
    clauses.push(sub);
    return this;
  };
  target.or = group('or');
  target.and = group('and');
}

function createSelect(base, fields, rowFromStored) {
  const query = { where: [], order: [] };
  let rows;
  const check = () => { if (rows !== undefined) throw dbError('Query has been executed, and cannot be modified.'); };
  const run = () => {
    if (rows === undefined) rows = dbCall({ ...base, op: 'select', query }).map(rowFromStored);
    return rows;
  };
  const select = {};
  clauseMethods(select, base, fields, query.where, check);
  select.order = function (field, descending) {
    check();
    if (field !== 'id' && !(field in fields)) throw dbError("Field '" + field + "' given to order() clause doesn't exist in table");
    query.order.push({ field: StringCtor(field), desc: Boolean(descending) });
    return this;
  };
  select.stableOrder = function () { check(); return this; }; // rows always come back in id order after the declared ones
  select.limit = function (n) {
    check();
    if (typeof n !== 'number' || !NumberIsInteger(n) || n < 0) throw dbError('Limit cannot be negative');
    query.limit = n;
    return this;
  };
  select.offset = function (n) {
    check();
    if (typeof n !== 'number' || !NumberIsInteger(n) || n < 0) throw dbError('Offset cannot be negative');
    query.offset = n;
    return this;
  };
  select.include = function (field) {
    check();
    if (!(field in fields) || fields[field].type !== 'link') throw dbError("Field '" + field + "' does not exist or isn't a link field");
    return this; // linked rows load when first read
  };
  select.each = function (fn) {
    const list = run();
    for (let i = 0; i < list.length; i++) if (fn(list[i], i) === false) break;
    return this;
  };
  select.count = () => dbCall({ ...base, op: 'count', query });
  select.deleteAll = () => dbCall({ ...base, op: 'deleteAll', query });
  select.update = (values) => {
    if (values === null || typeof values !== 'object') throw new TypeError('update(values) takes an object');
    const stored = {};
    for (const field of ObjectKeys(values)) {
      if (!(field in fields)) throw dbError("Bad field '" + field + "' for table '" + base.table + "'");
      if (values[field] === null && !fields[field].nullable) throw new TypeError(field + ' cannot be null');
      stored[field] = toStored({ name: base.table }, field, fields[field], values[field]);
    }
    return dbCall({ ...base, op: 'updateAll', query, values: stored });
  };
  ObjectDefineProperty(select, 'length', { get: () => run().length });
  select[Symbol.iterator] = function* () { yield* run(); };
  // `q[0]`, and Underscore's `_.map(q, …)` / `_.each(q, …)`, which read `length` and then indices.
  return new ProxyCtor(select, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^(0|[1-9]\d*)$/.test(key)) return run()[Number(key)];
      // Haplo's joins, aggregates and group queries (whereJSONProperty, aggregate, whereMemberOfGroup…) are not provided.
      if (typeof key === 'string' && !(key in target) && !SetHas(NOT_STAND_INS, key)) return unsupported('P.db.' + base.table + '.select().' + key);
      return ReflectGet(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === 'string' && /^(0|[1-9]\d*)$/.test(key)) return Number(key) < run().length;
      return key in target;
    },
  });
}
