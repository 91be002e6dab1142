// `plughost test [dir]`: runs a plugin folder's tests (test/**/*.test.{js,ts}, mjs) with
// node --test, as the isolates need (--no-node-snapshot), from the plugin's folder, so that
// `import … from 'plughost/sdk/testing'` finds the installed package. Exits as the tests do.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { listFiles } from './init.ts';

/** The test files of a plugin folder, relative to it, in a stable order. */
export function testFilesOf(dir: string): string[] {
  const root = path.join(dir, 'test');
  if (!fs.existsSync(root)) return [];
  return listFiles(root)
    .filter((f) => /\.test\.(js|mjs|cjs|ts|mts)$/.test(f) && !f.split('/').some((part) => part === 'node_modules' || part.startsWith('.')))
    .map((f) => `test/${f}`);
}

export function testCommand(program: Command): void {
  program.command('test [dir]')
    .description('run a plugin folder\'s tests (test/**/*.test.js|ts) against this plughost, with the production limits')
    .action(async (dir: string | undefined) => {
      const root = path.resolve(dir ?? '.');
      const files = testFilesOf(root);
      if (files.length === 0) throw new Error(`no tests in ${path.join(root, 'test')}: add test/<name>.test.js (see plughost init)`);
      const code = await new Promise<number>((resolve, reject) => {
        // Run from the repository's TypeScript, `plughost/sdk/testing` is its source too.
        const conditions = import.meta.url.endsWith('.ts') ? ['--conditions=plughost-source'] : [];
        const child = spawn(process.execPath, ['--no-node-snapshot', ...conditions, '--test', ...files], { cwd: root, stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
      });
      process.exitCode = code;
    });
}
