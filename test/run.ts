// `npm test`: the whole suite on SQLite, then the same suite again on PostgreSQL, in a fresh
// database made for this run on the server at PLUGHOST_TEST_PG_URL (default: the local one)
// and dropped afterwards. A PostgreSQL that cannot be reached fails the run; it never skips.
//   node --no-node-snapshot test/run.ts [--only sqlite|postgres] [test files or globs…]
import { spawn } from 'node:child_process';
import pg from 'pg';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
const files = args.length > 0 ? args : ['test/**/*.test.ts', 'examples/*/test/*.test.ts'];
const adminUrl = process.env.PLUGHOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Result { name: string; passed: number; failed: number; code: number }

function runSuite(name: string, env: Record<string, string | undefined>): Promise<Result> {
  return new Promise((resolve) => {
    process.stdout.write(`\n=== ${name}: node --test ${files.join(' ')}\n`);
    const child = spawn(process.execPath, ['--no-node-snapshot', '--conditions=plughost-source', '--test', '--test-concurrency=1', '--test-timeout=180000', ...files], {
      env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      output += chunk.toString('utf8');
    });
    child.on('close', (code) => {
      // The summary lines come before the failures' details, which can be long: read them all.
      const count = (label: string) => Number([...output.matchAll(new RegExp(`^ℹ ${label} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
      resolve({ name, passed: count('pass'), failed: count('fail'), code: code ?? 1 });
    });
  });
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `plughost_test_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL at ${adminUrl} cannot be reached (${(err as Error).message}); start it (see .ci/run) or set PLUGHOST_TEST_PG_URL`);
  }
  await admin.query(`CREATE DATABASE ${name}`); // the name is ours, never input
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return await fn(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const results: Result[] = [];
if (only !== 'postgres') results.push(await runSuite('sqlite', { PLUGHOST_TEST_DATABASE_URL: undefined }));
if (only !== 'sqlite') {
  try {
    results.push(await withDatabase((url) => runSuite('postgres', { PLUGHOST_TEST_DATABASE_URL: url })));
  } catch (err) {
    process.stdout.write(`\npostgres: ${(err as Error).message}\n`);
    results.push({ name: 'postgres', passed: 0, failed: 1, code: 1 });
  }
}

process.stdout.write('\n');
for (const r of results) process.stdout.write(`${r.name}: ${r.passed} passed, ${r.failed} failed\n`);
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(results.every((r) => r.code === 0 && r.failed === 0) && passed > 0 ? 0 : 1);
