// `plughost init <dir> --template zengine|freshworks|haplo`: each template lands in a new
// folder inside the repository, named after the folder (plugin.json name and namespace, and
// the test's routes), its test importing the harness as `plughost/sdk/testing`, with a
// package.json whose `npm test` is `plughost test` and a jsconfig.json for the globals' types;
// the generated test then passes when run as an author would (`plughost test`). A folder with
// only npm's leftovers is empty enough and keeps its package.json; a non-empty folder, an unknown
// template and an unusable folder name are refused with one line, exit 1. (The same from an
// installed tarball, outside the repository: test/sdk/tarball.test.ts.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pluginNameFor } from '../../runtime/cli/init.ts';

const repo = path.join(import.meta.dirname, '..', '..');
const cli = path.join(import.meta.dirname, 'fixtures/init-cli.ts');
let tmp: string;

before(() => {
  tmp = path.join(import.meta.dirname, `.tmp-${randomBytes(4).toString('hex')}`);
  // Where an author's plugins find the installed package: here, this checkout (its source).
  fs.mkdirSync(path.join(tmp, 'node_modules'), { recursive: true });
  fs.symlinkSync(repo, path.join(tmp, 'node_modules', 'plughost'), 'dir');
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function run(args: string[], cwd = repo): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // The generated tests start hosts of their own; keep the parent's database choice out.
    const env = { ...process.env, PLUGHOST_TEST_DATABASE_URL: '' };
    delete (env as Record<string, string | undefined>).NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--no-node-snapshot', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

for (const template of ['zengine', 'freshworks', 'haplo'] as const) {
  test(`init --template ${template} makes a plugin whose own test passes`, async () => {
    const dir = path.join(tmp, `My ${template} Plugin`);
    const name = `my-${template}-plugin`;
    const made = await run([cli, 'init', dir, '--template', template]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, new RegExp(`created plugin ${name} \\(${template} template\\)`));
    assert.match(made.stdout, /plugin\.json/);
    assert.match(made.stdout, /test\/plugin\.test\.ts/);
    assert.match(made.stdout, /npm test/);
    assert.match(made.stdout, /plughost dev /);

    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'plugin.json'), 'utf8'));
    assert.equal(manifest.name, name);
    assert.equal(manifest.namespace, name);
    const testSource = fs.readFileSync(path.join(dir, 'test/plugin.test.ts'), 'utf8');
    assert.ok(testSource.includes("from 'plughost/sdk/testing'"), 'the test imports the harness from the package');
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    assert.deepEqual([pkg.name, pkg.type, pkg.scripts.test, pkg.scripts.dev], [name, 'module', 'plughost test', 'plughost dev .']);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'jsconfig.json'), 'utf8')).compilerOptions.types, ['plughost/sdk/globals']);
    assert.ok(!testSource.includes(`${template}-starter`), 'no trace of the template name is left');
    for (const file of fs.readdirSync(dir, { recursive: true }) as string[]) {
      const full = path.join(dir, file);
      if (fs.statSync(full).isFile()) assert.ok(!fs.readFileSync(full, 'utf8').includes(`${template}-starter`), `${file} still names ${template}-starter`);
    }

    const tested = await run([path.join(repo, 'bin/plughost.js'), 'test'], dir);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /ℹ fail 0/);
    assert.doesNotMatch(tested.stdout, /ℹ pass 0\b/);
  });
}

test("a folder with only npm's leftovers is empty enough: its package.json keeps its dependencies and gains the scripts", async () => {
  const dir = path.join(tmp, 'after-npm-install');
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'mine', dependencies: { plughost: 'file:../plughost-0.1.0.tgz' }, scripts: { test: 'echo "Error: no test specified" && exit 1' } }));
  const res = await run([cli, 'init', dir, '--template', 'haplo']);
  assert.equal(res.code, 0, res.stderr);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  assert.deepEqual(pkg.dependencies, { plughost: 'file:../plughost-0.1.0.tgz' });
  assert.equal(pkg.name, 'mine');
  assert.equal(pkg.scripts.test, 'plughost test');
  assert.ok(fs.existsSync(path.join(dir, 'plugin.json')));
});

test('init refuses a folder that is not empty, and leaves it alone', async () => {
  const dir = path.join(tmp, 'busy');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  const res = await run([cli, 'init', dir, '--template', 'haplo']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^plughost: .*busy is not empty; choose a new or empty folder\n$/);
  assert.deepEqual(fs.readdirSync(dir), ['notes.txt']);
});

test('init refuses an unknown template', async () => {
  const res = await run([cli, 'init', path.join(tmp, 'x'), '--template', 'wordpress']);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /zengine, freshworks, haplo/);
  assert.equal(fs.existsSync(path.join(tmp, 'x')), false);
});

test('an empty existing folder is fine; the default template is zengine', async () => {
  const dir = path.join(tmp, 'empty.one');
  fs.mkdirSync(dir);
  const res = await run([cli, 'init', dir]);
  assert.equal(res.code, 0, res.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'plugin.json'), 'utf8'));
  assert.equal(manifest.name, 'empty-one');
  assert.deepEqual(manifest.services.map((s: { route: string }) => s.route), ['summary']);
});

test('plugin names come from folder names, within the manifest rules', () => {
  assert.equal(pluginNameFor('plugins/My Plugin'), 'my-plugin');
  assert.equal(pluginNameFor('/x/__Zen.Desk v2__'), 'zen-desk-v2__');
  assert.throws(() => pluginNameFor('/x/api'), /reserves/);
  assert.throws(() => pluginNameFor('/x/日本'), /cannot make a plugin name/);
});
