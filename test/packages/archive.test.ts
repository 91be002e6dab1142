// Package archives and folders: what a good package unpacks to, and every way a hostile or
// broken one is refused (unsafe paths, links, bombs, lying headers, too many entries).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { strToU8 } from 'fflate';
import { PACKAGE_MAX_ENTRIES, loadPackage, readPackageArchive } from '../../runtime/packages/archive.ts';
import { packDirectory, readPackageDirectory } from '../../runtime/packages/pack.ts';
import { MiB, basicFiles, manifestBytes, patchZipEntry, tarEntries, tarGz, zip } from './fixtures/archives.ts';
import type { ZipInput } from './fixtures/archives.ts';
import { rejectsWith } from './fixtures/expect-error.ts';

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

test('a zip and a tar.gz unpack to the same files, detected by their magic bytes', async () => {
  const files = { ...basicFiles(), 'lib/zn-http.js': strToU8("module.exports = require('zn-http');\n") };
  const fromZip = await readPackageArchive(zip(files));
  const fromTar = await readPackageArchive(await tarGz(tarEntries(files)), 'gzip');
  assert.deepEqual([...fromZip.keys()].sort(), ['lib/zn-http.js', 'plugin.js', 'plugin.json']);
  assert.deepEqual(fromTar, fromZip);
  assert.equal(Object.getPrototypeOf(fromZip.get('plugin.js')), Uint8Array.prototype);
  const { manifest } = await loadPackage(zip(files), 'zip');
  assert.equal(manifest.main, 'plugin.js');
});

test('a folder-wrapped package is stripped to its folder; node_modules and dotfiles below the root stay', async () => {
  const files = { ...basicFiles(), 'node_modules/left-pad/index.js': strToU8('module.exports = 1;'), 'lib/.keep': new Uint8Array() };
  const wrapped = zip({ 'todo-digest/': new Uint8Array(), ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`todo-digest/${k}`, v])),
    '__MACOSX/todo-digest/._plugin.js': new Uint8Array(4) });
  const expected = ['lib/.keep', 'node_modules/left-pad/index.js', 'plugin.js', 'plugin.json'];
  assert.deepEqual([...(await readPackageArchive(wrapped)).keys()].sort(), expected);
  const tarred = await tarGz([{ name: './', type: 'directory' }, { name: './pkg/', type: 'directory' }, ...tarEntries(files, './pkg/')]);
  const fromTar = await readPackageArchive(tarred);
  assert.deepEqual([...fromTar.keys()].sort(), expected);
  assert.equal(text(fromTar.get('node_modules/left-pad/index.js')), 'module.exports = 1;');
});

const hostileNames = ['../evil.js', '/etc/x', 'a/../../b', 'lib\\evil.js', 'C:/x.js', 'C:x.js'];

test('zip entries with unsafe names are refused, naming the entry', async () => {
  for (const name of [...hostileNames, 'a\u0000b.js']) {
    const err = await rejectsWith(readPackageArchive(zip({ ...basicFiles(), [name]: strToU8('x') })), 'INVALID_ARCHIVE', [name]);
    assert.ok(err.message.includes(JSON.stringify(name)), err.message);
  }
});

test('tar entries with unsafe names are refused, naming the entry', async () => {
  for (const name of hostileNames) {
    await rejectsWith(readPackageArchive(await tarGz([...tarEntries(basicFiles()), { name, data: 'x' }])), 'INVALID_ARCHIVE', [name]);
  }
  await rejectsWith(readPackageArchive(await tarGz([{ name: '../', type: 'directory' }, ...tarEntries(basicFiles())])), 'INVALID_ARCHIVE', ['../']);
  await rejectsWith(readPackageArchive(zip({ '/tmp/': new Uint8Array(), ...basicFiles() })), 'INVALID_ARCHIVE', ['/tmp/']);
});

test('links, devices and FIFOs in a tar are refused', async () => {
  const entries = [
    { name: 'lib/passwd', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'lib/copy.json', type: 'link', linkname: 'plugin.json' },
    { name: 'lib/tty', type: 'character-device' },
    { name: 'lib/disk', type: 'block-device' },
    { name: 'lib/pipe', type: 'fifo' },
  ] as const;
  for (const entry of entries) {
    const err = await rejectsWith(readPackageArchive(await tarGz([...tarEntries(basicFiles()), entry])), 'INVALID_ARCHIVE', [entry.name]);
    assert.match(err.message, /only regular files and folders/);
  }
});

test('zip symlinks and encrypted zip entries are refused', async () => {
  const link = zip({ ...basicFiles(), 'lib/passwd': [strToU8('/etc/passwd'), { os: 3, attrs: 0o120777 << 16 }] });
  await rejectsWith(readPackageArchive(link), 'INVALID_ARCHIVE', ['lib/passwd']);
  const unixFile = zip({ ...basicFiles(), 'lib/a.js': [strToU8('1'), { os: 3, attrs: 0o100644 << 16 }] });
  assert.ok((await readPackageArchive(unixFile)).has('lib/a.js'));
  const encrypted = patchZipEntry(zip(basicFiles()), 'plugin.js', { encrypted: true });
  assert.match((await rejectsWith(readPackageArchive(encrypted), 'INVALID_ARCHIVE', ['plugin.js'])).message, /encrypted/);
});

test('zip bombs are refused: honest headers, lying headers and many files adding up', async () => {
  const bomb = zip({ ...basicFiles(), 'bomb.bin': [new Uint8Array(30 * MiB), { level: 9 }] });
  assert.ok(bomb.byteLength < 100_000, 'the bomb itself is small');
  await rejectsWith(readPackageArchive(bomb), 'PACKAGE_TOO_LARGE', ['bomb.bin']);
  const lying = patchZipEntry(bomb, 'bomb.bin', { uncompressedSize: 1000 });
  assert.match((await rejectsWith(readPackageArchive(lying), 'INVALID_ARCHIVE', ['bomb.bin'])).message, /header/);
  const parts: ZipInput = basicFiles();
  for (let i = 0; i < 5; i++) parts[`data/${i}.bin`] = [new Uint8Array(4.5 * MiB), { level: 9 }];
  const err = await rejectsWith(readPackageArchive(zip(parts)), 'PACKAGE_TOO_LARGE');
  assert.match(err.message, /more than 20 MiB/);
});

test('a gzip bomb inside a tar.gz is counted as it inflates', async () => {
  const bomb = await tarGz([...tarEntries(basicFiles()), { name: 'bomb.bin', data: new Uint8Array(6 * MiB) }]);
  assert.ok(bomb.byteLength < 100_000);
  await rejectsWith(readPackageArchive(bomb), 'PACKAGE_TOO_LARGE', ['bomb.bin']);
});

test(`more than ${PACKAGE_MAX_ENTRIES} entries are refused`, async () => {
  const many = Object.fromEntries(Array.from({ length: PACKAGE_MAX_ENTRIES + 1 }, (_, i) => [`f/${i}.js`, strToU8('1')]));
  await rejectsWith(readPackageArchive(zip({ ...basicFiles(), ...many })), 'PACKAGE_TOO_LARGE');
  const err = await rejectsWith(readPackageArchive(await tarGz(tarEntries({ ...basicFiles(), ...many }))), 'PACKAGE_TOO_LARGE');
  assert.match(err.message, /more than 2000 files and folders/);
});

test('an archive over 5 MiB packed is refused before it is read', async () => {
  const big = zip({ ...basicFiles(), 'noise.bin': [randomBytes(6 * MiB), { level: 0 }] });
  assert.ok(big.byteLength > 6 * MiB);
  assert.match((await rejectsWith(readPackageArchive(big), 'PACKAGE_TOO_LARGE')).message, /limit is 5 MiB/);
});

test('garbage, truncated and mislabelled archives are INVALID_ARCHIVE', async () => {
  const tgz = await tarGz(tarEntries(basicFiles()));
  const cases: Array<[Uint8Array, 'zip' | 'gzip' | undefined]> = [
    [randomBytes(1000), undefined],
    [new Uint8Array(), undefined],
    [tgz.subarray(0, tgz.byteLength - 20), undefined],
    [new Uint8Array(await tarGz([])).subarray(0, 10), undefined],
    [new Uint8Array(Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(200)])), undefined],
    [zip(basicFiles()).subarray(0, 60), undefined],
    [tgz, 'zip'],
  ];
  for (const [bytes, kind] of cases) await rejectsWith(readPackageArchive(bytes, kind), 'INVALID_ARCHIVE');
});

test('duplicate paths, file/folder clashes and a missing plugin.json are refused', async () => {
  await rejectsWith(readPackageArchive(zip({ ...basicFiles(), 'a.js': strToU8('1'), './a.js': strToU8('2') })), 'INVALID_ARCHIVE', ['./a.js']);
  await rejectsWith(readPackageArchive(await tarGz([...tarEntries(basicFiles()), { name: 'plugin.js', data: 'again' }])), 'INVALID_ARCHIVE', ['plugin.js']);
  await rejectsWith(readPackageArchive(zip({ ...basicFiles(), lib: strToU8('1'), 'lib/a.js': strToU8('2') })), 'INVALID_ARCHIVE', ['lib/a.js']);
  const err = await rejectsWith(readPackageArchive(zip({ 'a/plugin.json': manifestBytes(), 'b/plugin.js': strToU8('') })), 'INVALID_ARCHIVE');
  assert.match(err.message, /neither a plugin\.json nor an FDK manifest\.json at its root/);
});

test('loadPackage checks the manifest against the files in the package', async () => {
  const files = { 'plugin.json': manifestBytes({ main: 'server.js' }), 'plugin.js': strToU8('') };
  await rejectsWith(loadPackage(zip(files)), 'INVALID_MANIFEST', ['main']);
  await rejectsWith(loadPackage(zip({ ...files, 'plugin.json': strToU8('{') })), 'INVALID_MANIFEST', ['(root)']);
});

async function writeTree(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [path, data] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), data);
  }
}

test('a plugin folder packs to a tar.gz that reads back, minus .git and root dotfiles', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'plughost-pack-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeTree(root, {
    ...basicFiles(), '.env': 'SECRET=1', '.git/config': '[core]', 'node_modules/left-pad/index.js': 'module.exports = 1;',
    'node_modules/left-pad/.npmignore': 'x', 'lib/util.js': 'exports.x = 1;',
  });
  await symlink(join(root, 'lib/util.js'), join(root, 'lib/alias.js'));
  const expected = ['lib/alias.js', 'lib/util.js', 'node_modules/left-pad/.npmignore', 'node_modules/left-pad/index.js', 'plugin.js', 'plugin.json'];
  const { manifest, files } = await readPackageDirectory(root);
  assert.equal(manifest.name, 'todo-digest');
  assert.deepEqual([...files.keys()].sort(), expected);
  const packed = await packDirectory(root);
  assert.deepEqual(await readPackageArchive(packed, 'gzip'), files);
  assert.deepEqual(await packDirectory(root), packed, 'packing is deterministic');
});

test('packing refuses links out of the folder, oversized files and bad manifests', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'plughost-pack-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeTree(root, basicFiles());
  await symlink(dirname(root), join(root, 'outside'));
  assert.match((await rejectsWith(packDirectory(root), 'INVALID_ARCHIVE', ['outside'])).message, /outside the plugin folder/);
  await rm(join(root, 'outside'));
  await symlink(root, join(root, 'loop'));
  await rejectsWith(readPackageDirectory(root), 'INVALID_ARCHIVE', ['loop']);
  await rm(join(root, 'loop'));
  await writeFile(join(root, 'big.bin'), new Uint8Array(5 * MiB + 1));
  await rejectsWith(packDirectory(root), 'PACKAGE_TOO_LARGE', ['big.bin']);
  await rm(join(root, 'big.bin'));
  await writeFile(join(root, 'plugin.json'), manifestBytes({ namespace: 'api' }));
  await rejectsWith(packDirectory(root), 'INVALID_MANIFEST', ['namespace']);
  await rejectsWith(readPackageDirectory(join(root, 'missing')), 'INVALID_ARCHIVE');
});

test("a folder whose package.json lists plughost packs without plughost and what it needs, keeping the plugin's vendored packages", async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'plughost-pack-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeTree(root, {
    ...basicFiles(),
    'package.json': JSON.stringify({ name: 'mine', dependencies: { plughost: 'file:../plughost-0.1.0.tgz', leftpad: '1.0.0' } }),
    'node_modules/.package-lock.json': '{}',
    'node_modules/.bin/plughost': '#!/bin/sh',
    'node_modules/plughost/package.json': JSON.stringify({ name: 'plughost', dependencies: { knex: '3', '@koa/router': '15' } }),
    'node_modules/plughost/bin/plughost.js': '',
    'node_modules/knex/package.json': JSON.stringify({ name: 'knex', dependencies: { tarn: '3' } }),
    'node_modules/tarn/package.json': JSON.stringify({ name: 'tarn' }),
    'node_modules/@koa/router/package.json': JSON.stringify({ name: '@koa/router' }),
    'node_modules/leftpad/package.json': JSON.stringify({ name: 'leftpad' }),
    'node_modules/leftpad/index.js': 'module.exports = 1;',
  });
  const { files } = await readPackageDirectory(root);
  assert.deepEqual([...files.keys()].sort(), ['node_modules/leftpad/index.js', 'node_modules/leftpad/package.json', 'package.json', 'plugin.js', 'plugin.json']);
});
