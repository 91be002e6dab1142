// Runs the `plughost` command line as a child process to the end, with the client settings
// of the caller's environment cleared (PLUGHOST_URL, _TOKEN, _WORKSPACE) unless `env` sets them.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.join(import.meta.dirname, '../..');
export const cliPath = path.join(repoRoot, 'runtime/cli/plughost.ts');

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** `cwd`: where it runs (an author runs it from inside the plugin folder). */
export function plughost(args: string[], env: Record<string, string> = {}, cwd = repoRoot): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const childEnv: Record<string, string | undefined> = { ...process.env };
    for (const name of ['PLUGHOST_URL', 'PLUGHOST_TOKEN', 'PLUGHOST_WORKSPACE']) delete childEnv[name];
    const child = spawn(process.execPath, ['--no-node-snapshot', cliPath, ...args], { cwd, env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
