// `plughost validate [dir]`: the check `plughost publish` and `plughost pack` make before they
// pack, on its own. A plugin folder (plughost's plugin.json, an FDK app's manifest.json or
// Haplo's plugin.json) is read under the rules of an uploaded package and every module is
// parsed; the command prints what the manifest says the plugin is and does, or every problem
// by its field path (exit 1). One check for all three commands: `checkPluginFolder`.
import path from 'node:path';
import type { Command } from 'commander';
import { checkSyntax } from '../dev/dev-tools.ts';
import { isPlughostError, PlughostError } from '../errors.ts';
import type { LoadedPackage } from '../packages/archive.ts';
import { isFdkApp, sanitizedName, type PackageIdentity } from '../packages/fdk.ts';
import { readPackageDirectory } from '../packages/pack.ts';

/** What publish, pack and validate are told of an FDK or Haplo plugin, whose manifest does not say it all. */
export interface IdentityFlags { name?: string; version?: string; namespace?: string }

export function withIdentityOptions(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'plugin name for an FDK app (default: the folder name) or a Haplo plugin (default: its pluginName)')
    .option('--version <version>', 'version for an FDK app (default: 1.0.0) or a Haplo plugin (default: <pluginVersion>.0.0)')
    .option('--namespace <namespace>', 'namespace for an FDK app or a Haplo plugin (default: from the name)');
}

export function identityFor(dir: string, flags: IdentityFlags): PackageIdentity {
  return {
    fallbackName: sanitizedName(path.basename(path.resolve(dir))),
    ...(flags.name ? { name: flags.name } : {}), ...(flags.version ? { version: flags.version } : {}), ...(flags.namespace ? { namespace: flags.namespace } : {}),
  };
}

export type PluginKind = 'plughost' | 'fdk' | 'haplo';

export interface CheckedFolder extends LoadedPackage { kind: PluginKind }

export const kindName = (kind: PluginKind): string => ({ plughost: 'plughost plugin', fdk: 'FDK app', haplo: 'Haplo plugin' })[kind];

/**
 * Reads a plugin folder as publish uploads it and parses every module, or throws the coded
 * error whose `details` list each problem by path (all manifest problems, every file that
 * does not parse).
 */
export async function checkPluginFolder(dir: string, identity: PackageIdentity): Promise<CheckedFolder> {
  const pkg = await readPackageDirectory(dir, identity);
  const broken: Array<{ path: string; message: string }> = [];
  const messages: string[] = [];
  for (const [file, bytes] of pkg.files) {
    try {
      checkSyntax(new Map([[file, bytes]]));
    } catch (err) {
      if (!isPlughostError(err)) throw err;
      // The message, with its source excerpt, under the location the check names (`routes.js:5`).
      const where = (err.details as Array<{ path?: string }> | undefined)?.[0]?.path ?? file;
      messages.push(err.message);
      broken.push({ path: where, message: err.message.startsWith(`${where}: `) ? err.message.slice(where.length + 2) : err.message });
    }
  }
  if (messages.length > 0) {
    const count = messages.length === 1 ? 'a file that does not parse' : `${messages.length} files that do not parse`;
    throw new PlughostError('PLUGIN_LOAD_ERROR', `the plugin has ${count}: ${messages.join('; ')}`, { details: broken });
  }
  const kind: PluginKind = isFdkApp(pkg.files) ? 'fdk' : pkg.manifest.haplo ? 'haplo' : 'plughost';
  return { ...pkg, kind };
}

/** Each problem of a failed check as `path: message`, one per entry. */
export function problemsOf(err: unknown): string[] {
  if (!isPlughostError(err)) return [(err as Error)?.message ?? String(err)];
  const details = Array.isArray(err.details) ? err.details as Array<{ path?: unknown; message?: unknown }> : [];
  const listed = details.filter((d) => typeof d.path === 'string' && typeof d.message === 'string');
  return listed.length > 0 ? listed.map((d) => `${d.path}: ${d.message}`) : [err.message];
}

const size = (bytes: number) => (bytes < 1024 ? `${bytes} bytes` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`);

/** What the manifest says the plugin is and does, a line per fact. */
export function describeFolder(checked: CheckedFolder, identity: PackageIdentity): string[] {
  const m = checked.manifest;
  const base = `/workspaces/<workspace>/${m.namespace}`;
  const lines = [`${m.name}@${m.version}: a valid ${kindName(checked.kind)}`, `  namespace: ${m.namespace}`];
  if (m.displayName !== m.name) lines.push(`  display name: ${m.displayName}`);
  if (checked.kind === 'fdk') {
    const platform = JSON.parse(Buffer.from(checked.files.get('manifest.json')!).toString('utf8'))['platform-version'];
    lines.push(`  platform: ${platform}`);
    if (!identity.name || !identity.version) lines.push('  (an FDK manifest names no plugin: publish uses the name and version above unless given --name, --version, --namespace)');
  }
  for (const s of m.services) lines.push(`  route: ${base}/${s.route} → ${s.main} (${s.access})`);
  for (const [event, { handler }] of Object.entries(m.events)) lines.push(`  event: ${event} → ${handler}${m.main ? ` in ${m.main}` : ''}`);
  for (const [fn, { timeoutMs }] of Object.entries(m.functions)) lines.push(`  server method: POST ${base}/smi/${fn} (${timeoutMs} ms)`);
  for (const [name, t] of Object.entries(m.requests)) lines.push(`  request template: ${name} (${t.schema.method} ${t.schema.protocol}://${t.schema.host}${t.schema.path})`);
  if (m.haplo) {
    lines.push(`  load: ${m.haplo.load.join(', ')}`);
    if (m.haplo.respond.length) lines.push(`  respond: ${m.haplo.respond.join(', ')}`);
    if (m.haplo.privileges.length) lines.push(`  privileges: ${m.haplo.privileges.join(', ')}`);
    if (m.haplo.depend.length) lines.push(`  depends on: ${m.haplo.depend.join(', ')}`);
  }
  for (const [name, spec] of Object.entries(m.iparams)) lines.push(`  iparam: ${name} (${spec.type}${spec.required ? ', required' : ''}${spec.secure ? ', secure' : ''})`);
  if (m.openIparams) lines.push('  iparams: any (undeclared ones are kept secure)');
  for (const host of m.permissions.hosts) lines.push(`  may reach: ${host}`);
  lines.push(`  limits: ${m.limits.timeoutMs} ms, ${m.limits.memoryMb} MB`);
  const bytes = [...checked.files.values()].reduce((n, b) => n + b.byteLength, 0);
  lines.push(`  files: ${checked.files.size} (${size(bytes)} unpacked)`);
  // Hooks are registered by the code (P.hook) as it loads, not declared: only a load shows them.
  if (checked.kind !== 'fdk' && (m.main || m.haplo)) lines.push('  hooks: named by the code as it loads (P.hook); `plughost dev` lists them');
  return lines;
}

/**
 * `checkPluginFolder` for a command: on a problem, each one is written to `out` (path and
 * message, a line each) and the error thrown is the one-line reason the command exits with.
 */
export async function checkOrExplain(dir: string, identity: PackageIdentity, out: NodeJS.WritableStream): Promise<CheckedFolder> {
  try {
    return await checkPluginFolder(dir, identity);
  } catch (err) {
    const problems = problemsOf(err);
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    out.write(`${path.resolve(dir)}: ${count}\n`);
    for (const p of problems) out.write(`  ${p}\n`);
    const code = isPlughostError(err) ? err.code : 'INVALID_ARCHIVE';
    throw new Error(`${code}: ${problems.length === 1 ? problems[0]!.split('\n')[0] : `${dir} has ${count}, listed above`}`, { cause: err });
  }
}

export function validateCommand(program: Command): void {
  withIdentityOptions(program.command('validate [dir]'))
    .description('check a plugin folder as publish would (plugin.json, an FDK app\'s manifest.json or a Haplo plugin.json) and print what it declares, or every problem')
    .addHelpText('after', `
Exits 0 when the folder would publish, 1 with each problem by its field path when not.
It reads the folder as \`plughost publish\` and \`plughost pack\` do (the same check).`)
    .action(async (dir: string | undefined, flags: IdentityFlags) => {
      const folder = dir ?? '.';
      const identity = identityFor(folder, flags);
      const checked = await checkOrExplain(folder, identity, process.stdout);
      for (const line of describeFolder(checked, identity)) process.stdout.write(`${line}\n`);
    });
}
