// `plughost init <dir> --template zengine|freshworks|haplo`: a new plugin folder from one of
// the templates under sdk/templates/, named after the folder, with a test that passes. The
// test imports the harness as `plughost/sdk/testing`, the installed package's; the folder gets
// a package.json whose `npm test` is `plughost test`, and a jsconfig.json that gives its
// JavaScript the platform globals' types (`$db`, `$schedule`, `$request`, `renderData`, `P`, `O`).
// A folder holding only what `npm install plughost-<v>.tgz` leaves (package.json,
// package-lock.json, node_modules) counts as empty: its package.json gains the scripts.
import { Option, type Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESERVED_NAMESPACES } from '../packages/manifest.ts';

export const TEMPLATES = ['zengine', 'freshworks', 'haplo'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

const sdkDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'sdk');
const templatesDir = path.join(sdkDir, 'templates');
/** What npm leaves in a folder it installed plughost into: such a folder counts as empty. */
const NPM_LEFTOVERS = new Set(['package.json', 'package-lock.json', 'node_modules']);
/** The scripts an init'd plugin's package.json gets. */
const SCRIPTS = { test: 'plughost test', dev: 'plughost dev .', validate: 'plughost validate .', pack: 'plughost pack .' };

/** A plugin name (and namespace) from a folder name: lower case, letters, digits, '_' and '-'. */
export function pluginNameFor(dir: string): string {
  const name = path.basename(path.resolve(dir)).toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/-+$/, '').slice(0, 64);
  if (name === '') throw new Error(`cannot make a plugin name from the folder name "${path.basename(dir)}"; use letters, digits, '-' or '_'`);
  if (RESERVED_NAMESPACES.includes(name)) throw new Error(`"${name}" is a namespace the host reserves; choose another folder name`);
  return name;
}

/** The files under `root`, relative to it with `/`, sorted. */
export function listFiles(root: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(root, prefix), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(root, rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

export interface InitResult { dir: string; name: string; template: TemplateName; files: string[] }

/** Copies a template into `dir` (new or empty), renamed after the folder. */
export function initPlugin(dir: string, template: TemplateName): InitResult {
  if (!TEMPLATES.includes(template)) throw new Error(`unknown template "${template}"; choose ${TEMPLATES.join(', ')}`);
  const target = path.resolve(dir);
  if (fs.existsSync(target)) {
    if (!fs.statSync(target).isDirectory()) throw new Error(`${dir} exists and is not a folder; choose a new folder`);
    if (fs.readdirSync(target).some((f) => !NPM_LEFTOVERS.has(f))) throw new Error(`${dir} is not empty; choose a new or empty folder`);
  }
  const name = pluginNameFor(target);
  const source = path.join(templatesDir, template);
  const token = (JSON.parse(fs.readFileSync(path.join(source, 'plugin.json'), 'utf8')) as { name: string }).name;
  const files = listFiles(source);
  const written: string[] = [];
  fs.mkdirSync(target, { recursive: true });
  for (const rel of files) {
    const text = fs.readFileSync(path.join(source, rel), 'utf8').split(token).join(name);
    const out = path.join(target, rel);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, text, { flag: 'wx' });
    written.push(out);
  }
  written.push(writePackageJson(target, name));
  const jsconfig = path.join(target, 'jsconfig.json');
  // The globals' types for `// @ts-check` JavaScript; the plugin code itself runs in the isolate, not in Node.
  fs.writeFileSync(jsconfig, `${JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', types: ['plughost/sdk/globals'] }, include: ['**/*.js'], exclude: ['node_modules', 'test'] }, null, 2)}\n`, { flag: 'wx' });
  written.push(jsconfig);
  return { dir: target, name, template, files: written };
}

/** The plugin's package.json: a new one, or npm's (from `npm install plughost-<v>.tgz`) with the scripts added. */
function writePackageJson(target: string, name: string): string {
  const file = path.join(target, 'package.json');
  const existing = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
  const pkg: Record<string, unknown> = existing ?? { name, version: '1.0.0', private: true, description: `${name}: a plughost plugin` };
  pkg.type ??= 'module';
  pkg.scripts = { ...SCRIPTS, ...(pkg.scripts as Record<string, string> | undefined) };
  // npm's `npm init`/install leaves a placeholder test script: the plugin's is plughost's.
  if (/no test specified/.test(String((pkg.scripts as Record<string, string>).test))) (pkg.scripts as Record<string, string>).test = SCRIPTS.test;
  fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  return file;
}

export function initCommand(program: Command): void {
  program.command('init <dir>')
    .description('create a plugin folder from a template, with a test that passes')
    .addOption(new Option('--template <name>', 'which platform\'s style').choices([...TEMPLATES]).default('zengine'))
    .action((dir: string, flags: { template: TemplateName }) => {
      const result = initPlugin(dir, flags.template);
      const shown = (p: string) => {
        const rel = path.relative(process.cwd(), p);
        return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
      };
      const folder = shown(result.dir);
      const out = process.stdout;
      out.write(`created plugin ${result.name} (${result.template} template) in ${folder}:\n`);
      for (const f of result.files) out.write(`  ${shown(f)}\n`);
      out.write('\nnext steps:\n');
      out.write(`  run its tests:     cd ${folder} && npm test   (plughost test: node --test with the production limits)\n`);
      out.write(`  serve it locally:  npx plughost dev ${folder}\n`);
      out.write(`  publish, install:  npx plughost publish ${folder} && npx plughost install ${result.name} --workspace demo\n`);
      out.write('the guide: sdk/README.md\n');
    });
}
