// A plugin author outside the repository, with only the tarball `npm pack` makes: `npm install
// plughost-<v>.tgz` into an empty folder (the package runs its compiled dist/, since Node does
// not strip types under node_modules), `npx plughost init` of each template, `npm test` passing
// in each, `plughost/sdk` and `plughost/sdk/testing` importable, the globals' types checking a
// `// @ts-check` plugin file, `npx plughost dev` reloading an edit and `npx plughost trigger`
// firing an event on it. Real processes throughout; the install takes a minute.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/plughost-cli.ts';

const run = promisify(execFile);
const nodeBin = path.dirname(process.execPath);
let work: string;
let authoring: string;
let tarball: string;

/** The environment an author's shell has: this Node first on PATH, no test or client settings of ours. */
function authorEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${nodeBin}${path.delimiter}${process.env.PATH ?? ''}`, ...extra };
  for (const k of ['NODE_TEST_CONTEXT', 'NODE_OPTIONS', 'PLUGHOST_TEST_DATABASE_URL', 'PLUGHOST_URL', 'PLUGHOST_TOKEN', 'PLUGHOST_WORKSPACE']) if (!(k in extra)) delete env[k];
  return env;
}
const npm = (args: string[], cwd: string) => run('npm', args, { cwd, env: authorEnv(), maxBuffer: 32 * 1024 * 1024, timeout: 600_000 });

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-tarball-'));
  const packed = await npm(['pack', '--pack-destination', work, '--silent'], repoRoot);
  tarball = path.join(work, packed.stdout.trim().split('\n').at(-1)!);
  assert.ok(fs.existsSync(tarball), `npm pack made no tarball: ${packed.stdout}${packed.stderr}`);
  assert.equal(fs.existsSync(path.join(repoRoot, 'dist')), false, 'postpack removes dist/ from the checkout');
  authoring = path.join(work, 'my-plugins');
  fs.mkdirSync(authoring);
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], authoring);
});
after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball holds the compiled package: dist/ JavaScript with .d.ts, bin, the globals types; no TypeScript to run', async () => {
  const listed = (await run('tar', ['tzf', tarball])).stdout.split('\n');
  for (const f of ['package/bin/plughost.js', 'package/bin/preflight.js', 'package/dist/runtime/cli/plughost.js', 'package/dist/sdk/testing.js', 'package/dist/sdk/testing.d.ts', 'package/dist/runtime/sandbox/guest/core.js', 'package/sdk/globals.d.ts', 'package/dist/sdk/templates/zengine/plugin.json']) {
    assert.ok(listed.includes(f), `${f} is in the tarball`);
  }
  assert.deepEqual(listed.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f) && !f.includes('/templates/')), [], 'no .ts to run (a template\'s test is the author\'s own)');
  const version = await run(path.join(authoring, 'node_modules/.bin/plughost'), ['--version'], { env: authorEnv() });
  assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  const imported = await run(process.execPath, ['--no-node-snapshot', '-e', "const t = await import('plughost/sdk/testing'); await import('plughost/sdk'); console.log(typeof t.createTestHost)", '--input-type=module'], { cwd: authoring, env: authorEnv() });
  assert.equal(imported.stdout.trim(), 'function');
});

for (const template of ['zengine', 'freshworks', 'haplo'] as const) {
  test(`npx plughost init --template ${template}, then npm test passes`, async () => {
    const made = await run('npx', ['plughost', 'init', `${template}-app`, '--template', template], { cwd: authoring, env: authorEnv() });
    assert.match(made.stdout, new RegExp(`created plugin ${template}-app`));
    const tested = await npm(['test'], path.join(authoring, `${template}-app`));
    assert.match(tested.stdout, /ℹ fail 0/);
    assert.doesNotMatch(tested.stdout, /ℹ pass 0\b/);
  });
}

test('the globals have types: a // @ts-check plugin file checks, and a typo in $db is an error', async () => {
  const app = path.join(authoring, 'zengine-app');
  const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
  fs.writeFileSync(path.join(app, 'checked.js'), '// @ts-check\n$db.set("k", 1);\nP.db.table("x", { a: { type: "text" } });\nO.background.run("zengine_app:job", {});\n');
  await run(process.execPath, [tsc, '-p', 'jsconfig.json', '--noEmit'], { cwd: app });
  fs.writeFileSync(path.join(app, 'checked.js'), '// @ts-check\n$db.sett("k", 1);\n');
  const failed = await run(process.execPath, [tsc, '-p', 'jsconfig.json', '--noEmit'], { cwd: app }).then(() => undefined, (err: { stdout: string }) => err.stdout);
  assert.match(failed ?? '', /Property 'sett' does not exist/);
  fs.rmSync(path.join(app, 'checked.js'));
});

test('npx plughost dev reloads an edit, and npx plughost trigger fires an event on it', async (t) => {
  const app = path.join(authoring, 'freshworks-app');
  // Its own process group: npx does not pass a signal on to the plughost it started.
  const dev = spawn('npx', ['plughost', 'dev', 'freshworks-app', '--port', '0'], { cwd: authoring, env: authorEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const gone = new Promise<void>((resolve) => dev.once('exit', () => resolve()));
  t.after(async () => {
    try { process.kill(-dev.pid!, 'SIGTERM'); } catch { /* already gone */ }
    await gone;
  });
  let out = '';
  const waiters = new Set<() => void>();
  const feed = (c: Buffer) => { out += c.toString(); for (const w of [...waiters]) w(); };
  dev.stdout.on('data', feed);
  dev.stderr.on('data', feed);
  const exited = new Promise<never>((_, reject) => dev.once('exit', (code) => reject(new Error(`plughost dev exited (${code}):\n${out}`))));
  exited.catch(() => {});
  const seen = (re: RegExp) => Promise.race([exited, new Promise<RegExpExecArray>((resolve) => {
    const check = () => { const m = re.exec(out); if (m) { waiters.delete(check); resolve(m); } };
    waiters.add(check);
    check();
  })]);
  const url = (await seen(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  const token = (await seen(/operator token: (pho_\S+)/))[1]!;
  const inst = (await seen(/loaded freshworks-app@\S+ \(installation (inst_\w+)\)/))[1]!;
  await seen(/watching .* for changes/);
  fs.appendFileSync(path.join(app, 'server.js'), '\n// an edit\n');
  await seen(/loaded freshworks-app@0\.1\.0-dev\.2/);
  const fired = await run('npx', ['plughost', 'trigger', 'event', inst, '--data', '{"text":"from the tarball"}'], { cwd: authoring, env: authorEnv({ PLUGHOST_URL: url, PLUGHOST_TOKEN: token }) });
  assert.match(fired.stdout, /onScheduledEvent .*succeeded/);
  assert.match(fired.stdout, /reminder manual: from the tarball/);
});
