// Plugin code written in TypeScript: a folder's `*.ts` sources are packed as the JavaScript the
// isolate runs (types stripped, line numbers kept), the manifest's references follow them, and
// the plugin works when published; tests and node_modules stay as they are; a folder with both
// `x.ts` and `x.js`, or TypeScript that is not erasable (an enum), is refused naming the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { packDirectory, readPackageDirectory } from '../../runtime/packages/pack.ts';
import { startHost } from '../helpers/host.ts';

function folder(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-ts-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const plugin = {
  'plugin.json': JSON.stringify({ name: 'typed-digest', version: '1.0.0', namespace: 'typed', services: [{ route: 'sum', main: 'plugin.ts', access: 'public' }] }),
  'plugin.ts': `
interface Totals { count: number; sum: number }
const { total } = require('./lib/math');
exports.run = function (eventData: { request: { query: Record<string, string> }; response: any }): void {
  const values: number[] = String(eventData.request.query.n ?? '').split(',').map(Number);
  const totals: Totals = total(values);
  eventData.response.json(totals);
};
`,
  'lib/math.ts': `
export type Numbers = readonly number[];
exports.total = (values: Numbers) => ({ count: values.length, sum: values.reduce((a: number, b: number) => a + b, 0) as number });
`,
  'test/plugin.test.ts': "const x: number = 1;\n",
  'node_modules/left-pad/index.ts': 'module.exports = 1;\n',
};

test('TypeScript sources pack as JavaScript; the manifest follows; tests and node_modules are left as they are', async () => {
  const root = folder(plugin);
  const { manifest, files } = await readPackageDirectory(root);
  assert.deepEqual([...files.keys()].sort(), ['lib/math.js', 'node_modules/left-pad/index.ts', 'plugin.js', 'plugin.json', 'test/plugin.test.ts']);
  assert.equal(manifest.services[0]!.main, 'plugin.js');
  const code = Buffer.from(files.get('plugin.js')!).toString('utf8');
  assert.doesNotMatch(code, /interface Totals|: number\[\]/);
  // Types are blanked in place: a line number in an error is the source's.
  assert.equal(code.split('\n').length, plugin['plugin.ts'].split('\n').length);
});

test('a TypeScript plugin runs once published', async (t) => {
  const h = await startHost();
  t.after(() => h.close());
  const root = folder(plugin);
  const bytes = await packDirectory(root);
  const published = await fetch(`${h.url}/api/v1/plugins`, { method: 'POST', headers: { authorization: `Bearer ${h.operatorToken}`, 'content-type': 'application/gzip' }, body: bytes });
  assert.equal(published.status, 201, await published.text());
  await h.api('POST', '/api/v1/workspaces', { id: 'ts', name: 'TS' });
  assert.equal((await h.api('POST', '/api/v1/workspaces/ts/installations', { plugin: 'typed-digest' })).status, 201);
  const r = await fetch(`${h.url}/workspaces/ts/typed/sum?n=1,2,3`);
  assert.deepEqual(await r.json(), { count: 3, sum: 6 });
});

test('both x.ts and x.js, or TypeScript that is not erasable, are refused naming the file', async () => {
  const twice = folder({ ...plugin, 'plugin.js': 'exports.run = () => {};' });
  await assert.rejects(readPackageDirectory(twice), /plugin\.ts and plugin\.js are both in the folder/);
  const enums = folder({ ...plugin, 'lib/math.ts': 'enum Mode { A, B }\nexports.total = () => Mode.A;\n' });
  await assert.rejects(readPackageDirectory(enums), (err: Error & { code?: string }) => err.code === 'INVALID_MANIFEST' && /lib\/math\.ts: .*erasable syntax/.test(err.message));
});
