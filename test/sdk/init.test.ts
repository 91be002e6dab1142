// `plughost init <dir> --template zengine|freshworks|haplo`: each template lands in a new
// folder inside the repository, named after the folder (plugin.json name and namespace, and
// the test's routes), with the harness import rewritten for where it landed; the generated
// test then passes when run as an author would (`node --no-node-snapshot --test`). A non-empty
// folder, an unknown template and an unusable folder name are refused with one line, exit 1.
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
  fs.mkdirSync(tmp);
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
    assert.match(made.stdout, /node --no-node-snapshot --test '.*\/test\/\*\.test\.ts'/);
    assert.match(made.stdout, /plughost dev /);

    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'plugin.json'), 'utf8'));
    assert.equal(manifest.name, name);
    assert.equal(manifest.namespace, name);
    const testSource = fs.readFileSync(path.join(dir, 'test/plugin.test.ts'), 'utf8');
    const relative = path.relative(path.join(dir, 'test'), path.join(repo, 'sdk/testing.ts')).split(path.sep).join('/');
    assert.ok(testSource.includes(`from '${relative}'`), `the test imports the harness at ${relative}`);
    assert.ok(!testSource.includes(`${template}-starter`), 'no trace of the template name is left');
    for (const file of fs.readdirSync(dir, { recursive: true }) as string[]) {
      const full = path.join(dir, file);
      if (fs.statSync(full).isFile()) assert.ok(!fs.readFileSync(full, 'utf8').includes(`${template}-starter`), `${file} still names ${template}-starter`);
    }

    const tested = await run(['--test', '--test-reporter=spec', path.join(dir, 'test', '*.test.ts')]);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /ℹ fail 0/);
    assert.doesNotMatch(tested.stdout, /ℹ pass 0\b/);
  });
}

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
