// `plughost init <dir> --template zengine|freshworks|haplo`: a new plugin folder from one of
// the templates under sdk/templates/, named after the folder, with a test that passes. The
// test imports the SDK harness by a relative path, computed here for where the folder lands.
import { Option, type Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESERVED_NAMESPACES } from '../packages/manifest.ts';

export const TEMPLATES = ['zengine', 'freshworks', 'haplo'] as const;
export type TemplateName = (typeof TEMPLATES)[number];

const sdkDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'sdk');
const templatesDir = path.join(sdkDir, 'templates');
const testingModule = path.join(sdkDir, 'testing.ts');
/** How a template's test imports the harness from sdk/templates/<name>/test/. */
const TEMPLATE_IMPORT = "'../../../testing.ts'";

/** A plugin name (and namespace) from a folder name: lower case, letters, digits, '_' and '-'. */
export function pluginNameFor(dir: string): string {
  const name = path.basename(path.resolve(dir)).toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/-+$/, '').slice(0, 64);
  if (name === '') throw new Error(`cannot make a plugin name from the folder name "${path.basename(dir)}"; use letters, digits, '-' or '_'`);
  if (RESERVED_NAMESPACES.includes(name)) throw new Error(`"${name}" is a namespace the host reserves; choose another folder name`);
  return name;
}

function listFiles(root: string, prefix = ''): string[] {
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
    if (fs.readdirSync(target).length > 0) throw new Error(`${dir} is not empty; choose a new or empty folder`);
  }
  const name = pluginNameFor(target);
  const source = path.join(templatesDir, template);
  const token = (JSON.parse(fs.readFileSync(path.join(source, 'plugin.json'), 'utf8')) as { name: string }).name;
  const files = listFiles(source);
  const written: string[] = [];
  fs.mkdirSync(target, { recursive: true });
  for (const rel of files) {
    let text = fs.readFileSync(path.join(source, rel), 'utf8').split(token).join(name);
    if (rel.endsWith('.ts')) {
      const from = path.dirname(path.join(target, rel));
      let relative = path.relative(from, testingModule).split(path.sep).join('/');
      if (!relative.startsWith('.')) relative = `./${relative}`;
      text = text.split(TEMPLATE_IMPORT).join(`'${relative}'`);
    }
    const out = path.join(target, rel);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, text, { flag: 'wx' });
    written.push(out);
  }
  return { dir: target, name, template, files: written };
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
      out.write(`  run its test:      node --no-node-snapshot --test '${folder}/test/*.test.ts'\n`);
      out.write(`  serve it locally:  npx plughost dev ${folder}\n`);
      out.write(`  publish, install:  npx plughost publish ${folder} && npx plughost install ${result.name} --workspace demo\n`);
      out.write('the guide: sdk/README.md\n');
    });
}
