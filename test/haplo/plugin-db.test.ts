// Haplo's P.db: tables a plugin declares with P.db.table are real tables of the store (on
// SQLite and PostgreSQL), created on first use and grown when a new version declares more
// fields; rows are created, saved, loaded, selected (where, or, order, limit, offset, count,
// deleteAll, update), read through links, JSON and dates; every misuse fails the way Haplo's
// does, and the installation's quotas bound what it can keep. The plugin is written the way
// Haplo's integration-messages plugin uses P.db.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { physicalName } from '../../runtime/store/plugin-tables.ts';
import { startHost, type TestHost } from '../helpers/host.ts';

const tables = `
P.db.table("accounts", {
    name: {type:"text", uniqueIndex:true},
    opened: {type:"date"}
});
P.db.table("entries", {
    account: {type:"link", linkedTable:"accounts"},
    amount: {type:"int"},
    memo: {type:"text", nullable:true},
    posted: {type:"datetime"},
    cleared: {type:"boolean"},
    data: {type:"json", nullable:true},
    rate: {type:"float", nullable:true}
}, {
    describe: function() { return this.account.name + ":" + this.amount; }
});
P.db.table("pointers", { target: {type:"ref", nullable:true} });
`;

const scenarios = `
var attempt = function(fn) {
    try { fn(); return null; } catch(e) { return {message: e.message, code: e.code || null, type: e.constructor.name}; }
};
var scenarios = {
    setup: function() {
        var rent = P.db.accounts.create({name: "Rent", opened: new Date(Date.UTC(2026, 0, 1))}).save();
        var food = P.db.accounts.create({name: "Food", opened: new Date(Date.UTC(2026, 1, 1))});
        food.save();
        _.each([[rent, 900, null, true], [food, 12, "bread", true], [food, 30, null, false], [food, 5, "milk", false], [rent, 950, "rise", false]], function(e, i) {
            P.db.entries.create({account: e[0], amount: e[1], memo: e[2], cleared: e[3], posted: new Date(Date.UTC(2026, 2, 1 + i, 9)), data: {n: i, tags: ["a"]}}).save();
        });
        return {rent: rent.id, food: food.id, count: P.db.entries.select().count()};
    },
    query: function() {
        var food = P.db.accounts.select().where("name", "=", "Food")[0];
        var bigFood = P.db.entries.select().where("account", "=", food).where("amount", ">", 10).order("amount", true);
        var cleared = P.db.entries.select().or(function(sq) { sq.where("memo", "=", null).where("cleared", "=", true); }).order("id");
        var paged = P.db.entries.select().order("amount").limit(2).offset(1);
        var iterated = [];
        for (var row of P.db.entries.select().where("amount", "<", 100).stableOrder()) { iterated.push(row.amount); }
        var eached = [];
        P.db.entries.select().where("memo", "<>", null).each(function(r, i) { eached.push(i + ":" + r.memo); });
        var first = P.db.entries.select().order("posted")[0];
        var loaded = P.db.entries.load(first.id);
        return {
            bigFood: _.map(bigFood, function(e) { return e.amount; }),
            bigFoodLength: bigFood.length,
            cleared: _.map(cleared, function(e) { return e.describe(); }),
            paged: _.pluck(_.map(paged, function(e) { return {a: e.amount}; }), "a"),
            iterated: iterated,
            eached: eached,
            like: P.db.accounts.select().where("name", "LIKE", "Re%").count(),
            linkName: loaded.account.name,
            opened: loaded.account.opened instanceof Date && loaded.account.opened.toISOString(),
            posted: loaded.posted instanceof Date && loaded.posted.toISOString(),
            cleared0: loaded.cleared,
            data: loaded.data,
            rate: loaded.rate,
            missing: P.db.entries.load(999999),
            postedAfter: P.db.entries.select().where("posted", ">=", new XDate(Date.UTC(2026, 2, 4))).count()
        };
    },
    change: function() {
        var milk = P.db.entries.select().where("memo", "=", "milk")[0];
        milk.amount = 6;
        milk.data = {n: 99};
        milk.rate = 0.5;
        milk.save();
        var reread = P.db.entries.load(milk.id);
        var updated = P.db.entries.select().where("cleared", "=", false).update({cleared: true});
        var removed = P.db.entries.select().where("amount", ">", 900).deleteAll();
        var bread = P.db.entries.select().where("memo", "=", "bread")[0];
        var unsaved = P.db.entries.create({amount: 1});
        return {
            reread: [reread.amount, reread.data.n, reread.rate],
            updated: updated,
            stillUncleared: P.db.entries.select().where("cleared", "=", false).count(),
            removed: removed,
            deleted: bread.deleteObject(),
            deletedAgain: bread.deleteObject(),
            unsavedDelete: unsaved.deleteObject(),
            left: _.map(P.db.entries.select().order("amount"), function(e) { return e.amount; })
        };
    },
    errors: function() {
        var executed = P.db.entries.select();
        executed.length;
        return {
            wrongType: attempt(function() { P.db.entries.create({amount: "ten"}); }),
            notNull: attempt(function() { P.db.entries.create({amount: 1}).save(); }),
            nullSet: attempt(function() { P.db.entries.create({}).amount = null; }),
            unique: attempt(function() { P.db.accounts.create({name: "Rent", opened: new Date()}).save(); }),
            badOp: attempt(function() { P.db.entries.select().where("amount", "~", 1); }),
            badField: attempt(function() { P.db.entries.select().where("nothing", "=", 1); }),
            nullLess: attempt(function() { P.db.entries.select().where("memo", "<", null); }),
            likeWildcard: attempt(function() { P.db.accounts.select().where("name", "LIKE", "%ent"); }),
            executed: attempt(function() { executed.where("amount", "=", 1); }),
            negativeLimit: attempt(function() { P.db.entries.select().limit(-1); }),
            declaredTwice: attempt(function() { P.db.table("accounts", {name: {type: "text"}}); }),
            badName: attempt(function() { P.db.table("Bad_Name", {name: {type: "text"}}); }),
            idField: attempt(function() { P.db.table("other", {id: {type: "int"}}); }),
            unknownType: attempt(function() { P.db.table("other2", {when: {type: "moment"}}); }),
            ref: attempt(function() { P.db.pointers.create({target: "80000"}); }),
            wrongLink: attempt(function() { P.db.entries.create({account: P.db.entries.create({})}); })
        };
    },
    fill: function() {
        var made = 0, error = null;
        try { for (var i = 0; i < 20; i++) { P.db.accounts.create({name: "A" + i, opened: new Date()}).save(); made++; } }
        catch(e) { error = {message: e.message, code: e.code, limit: e.limit || null}; }
        var big = attempt(function() { P.db.accounts.select().length; });
        return {made: made, error: error, big: big, total: P.db.accounts.select().count()};
    }
};
P.respond("GET", "/do/example-ledger/run", [
    {pathElement:0, as:"string", validate: function(s) { return s in scenarios; }}
], function(E, name) {
    E.response.kind = 'json';
    E.response.body = scenarios[name]();
});
`;

const ledger = (version: number, extra = '') => ({
  'plugin.json': {
    pluginName: 'example_ledger', pluginVersion: version, apiVersion: 4, privilegesRequired: ['pDatabase'],
    load: ['js/tables.js', 'js/scenarios.js'], respond: ['/do/example-ledger'],
  },
  'js/tables.js': tables.replace('rate: {type:"float", nullable:true}', `rate: {type:"float", nullable:true}${extra}`),
  'js/scenarios.js': scenarios + (version > 1 ? `
scenarios.tagged = function() {
    var e = P.db.entries.select().order("amount")[0];
    var before = e.tag;
    e.tag = "grown";
    e.save();
    return {before: before, after: P.db.entries.load(e.id).tag, rows: P.db.entries.select().count()};
};` : ''),
});

let h: TestHost;
let token: string;
let installationId: string;
const run = async (name: string) => {
  const r = await fetch(`${h.url}/workspaces/db/do/example-ledger/run/${name}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
};

before(async () => {
  h = await startHost({ limits: { dbRows: 12, dbSelectRows: 10 } });
  await h.api('POST', '/api/v1/workspaces', { id: 'db', name: 'Ledger', timezone: 'UTC' });
  token = (await h.api('POST', '/api/v1/workspaces/db/tokens', {})).body.token;
  assert.equal((await h.publish(ledger(1))).status, 201);
  const inst = (await h.api('POST', '/api/v1/workspaces/db/installations', { plugin: 'example_ledger' })).body;
  assert.equal(inst.loadError, null, JSON.stringify(inst.loadError));
  installationId = inst.id;
});
after(async () => { await h.close(); });

test('declared tables are real tables of the store, made on first use; rows get ids', async () => {
  const physical = physicalName(installationId, 'entries');
  assert.equal(await h.host.store.db.schema.hasTable(physical), false, 'declaring a table creates nothing yet');
  const out = await run('setup');
  assert.equal(out.count, 5);
  assert.ok(Number.isInteger(out.rent) && Number.isInteger(out.food) && out.rent !== out.food);
  assert.equal(await h.host.store.db.schema.hasTable(physical), true);
  const rows = await h.host.store.db(physical).select('amount', 'memo').orderBy('id');
  assert.deepEqual(rows.map((r: { amount: number }) => r.amount), [900, 12, 30, 5, 950]);
});

test('select: where, or(), order, limit, offset, LIKE, iteration, each, [i], Underscore, links, dates, JSON', async () => {
  const q = await run('query');
  assert.deepEqual(q.bigFood, [30, 12]);
  assert.equal(q.bigFoodLength, 2);
  // or(): memo null, or cleared — in id order.
  assert.deepEqual(q.cleared, ['Rent:900', 'Food:12', 'Food:30']);
  assert.deepEqual(q.paged, [12, 30]);
  assert.deepEqual(q.iterated, [12, 30, 5]);
  assert.deepEqual(q.eached, ['0:bread', '1:milk', '2:rise']);
  assert.equal(q.like, 1);
  assert.equal(q.linkName, 'Rent');
  assert.equal(q.opened, '2026-01-01T00:00:00.000Z');
  assert.equal(q.posted, '2026-03-01T09:00:00.000Z');
  assert.equal(q.cleared0, true);
  assert.deepEqual(q.data, { n: 0, tags: ['a'] });
  assert.equal(q.rate, null);
  assert.equal(q.missing, null);
  assert.equal(q.postedAfter, 2);
});

test('save() of a loaded row writes its changes; select().update(), deleteAll() and deleteObject() report what they did', async () => {
  const c = await run('change');
  assert.deepEqual(c.reread, [6, 99, 0.5]);
  assert.equal(c.updated, 3);
  assert.equal(c.stillUncleared, 0);
  assert.equal(c.removed, 1);
  assert.deepEqual([c.deleted, c.deletedAgain, c.unsavedDelete], [true, false, false]);
  assert.deepEqual(c.left, [6, 30, 900]);
});

test('misuse fails as in Haplo: type checks, nulls, unique indexes, bad queries and declarations', async () => {
  const e = await run('errors');
  assert.match(e.wrongType.message, /entries\.amount must be a whole number/);
  assert.equal(e.wrongType.type, 'TypeError');
  assert.match(e.notNull.message, /cannot be null/);
  assert.match(e.nullSet.message, /amount cannot be null/);
  assert.equal(e.unique.code, 'PLUGIN_DB_CONSTRAINT');
  assert.match(e.badOp.message, /Bad comparison operator '~'/);
  assert.equal(e.badOp.code, 'PLUGIN_DB_INVALID');
  assert.match(e.badField.message, /Bad field 'nothing'/);
  assert.match(e.nullLess.message, /other than = for a null value/);
  assert.match(e.likeWildcard.message, /wildcard as the first character/);
  assert.match(e.executed.message, /Query has been executed/);
  assert.match(e.negativeLimit.message, /Limit cannot be negative/);
  assert.match(e.declaredTwice.message, /'accounts' has already been declared/);
  assert.match(e.badName.message, /Names must begin with a-z/);
  assert.match(e.idField.message, /'id' is not allowed as field name/);
  assert.match(e.unknownType.message, /Unknown data type 'moment'/);
  assert.equal(e.ref.code, 'PLUGIN_UNSUPPORTED_API');
  assert.match(e.ref.message, /P\.db field type "ref" \(pointers\.target\) is not provided by plughost/);
  assert.match(e.wrongLink.message, /must be in the accounts table/);
  // Nothing half-written: the failed unique save left the accounts as they were.
  assert.equal(await h.host.store.db(physicalName(installationId, 'accounts')).count({ n: '*' }).first().then((r: any) => Number(r.n)), 2);
});

test('quotas: limits.dbRows stops inserts with PLUGIN_LIMIT, limits.dbSelectRows refuses an unbounded select', async () => {
  const f = await run('fill');
  // 2 accounts + 3 entries kept; dbRows is 12.
  assert.equal(f.made, 7);
  assert.equal(f.error.code, 'PLUGIN_LIMIT');
  assert.equal(f.error.limit, 'dbRows');
  assert.match(f.error.message, /P\.db is full: this installation keeps 12 rows, its limit \(limits\.dbRows\)/);
  assert.equal(f.total, 9);
  assert.equal(f.big, null, 'nine rows are within dbSelectRows');
  assert.equal(await h.host.store.pluginTables.usage(installationId), 12);
});

test('a new version that declares a new field gets a new column; old rows read null; a changed type is refused', async () => {
  assert.equal((await h.publish(ledger(2, ',\n    tag: {type:"text", nullable:true}'))).status, 201);
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/db/installations/${installationId}`, { version: '2.0.0' })).status, 200);
  const t = await run('tagged');
  assert.deepEqual(t, { before: null, after: 'grown', rows: 3 });

  assert.equal((await h.publish(ledger(3, ',\n    tag: {type:"int", nullable:true}'))).status, 201);
  assert.equal((await h.api('PATCH', `/api/v1/workspaces/db/installations/${installationId}`, { version: '3.0.0' })).status, 200);
  const r = await fetch(`${h.url}/workspaces/db/do/example-ledger/run/tagged`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 500);
  const runId = r.headers.get('x-plughost-run')!;
  const failed = (await h.api('GET', `/api/v1/workspaces/db/runs/${runId}`)).body;
  assert.match(failed.error.message, /P\.db\.entries\.tag was declared text and is now int/);
});

test('a plugin without the pDatabase privilege cannot declare tables (Haplo\'s message), and loads broken', async () => {
  const files = ledger(1);
  (files['plugin.json'] as { pluginName: string; privilegesRequired: string[] }).pluginName = 'example_nodb';
  (files['plugin.json'] as { privilegesRequired: string[] }).privilegesRequired = [];
  (files['plugin.json'] as { respond: string[] }).respond = ['/do/example-nodb'];
  assert.equal((await h.publish(files)).status, 201);
  const inst = (await h.api('POST', '/api/v1/workspaces/db/installations', { plugin: 'example_nodb' })).body;
  assert.equal(inst.loadError?.code, 'PLUGIN_LOAD_ERROR');
  assert.match(inst.loadError.message, /not declared to use a database in plugin\.json\. Add the "pDatabase" privilege/);
});

test('uninstalling drops the installation\'s tables', async () => {
  const physical = physicalName(installationId, 'entries');
  assert.equal((await h.api('DELETE', `/api/v1/workspaces/db/installations/${installationId}`)).status, 204);
  assert.equal(await h.host.store.db.schema.hasTable(physical), false);
  assert.equal(await h.host.store.db.schema.hasTable(physicalName(installationId, 'accounts')), false);
  assert.equal(await h.host.store.pluginTables.usage(installationId), 0);
});
