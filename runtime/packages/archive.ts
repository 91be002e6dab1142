// Reads an uploaded plugin package (.zip or .tar.gz) into memory as path → bytes. Uploads
// are hostile until proven otherwise: sizes are counted as bytes stream out (headers lie,
// zip bombs exist), and any path that could escape a folder or alias another is refused.

import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, crc32 } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { fromBufferPromise, getFileNameLowLevel } from 'yauzl';
import type { Entry as ZipEntry } from 'yauzl';
import { PlughostError, isPlughostError } from '../errors.ts';
import { fdkManifest, isFdkApp, type PackageIdentity } from './fdk.ts';
import { haploManifest, isHaploManifest } from './haplo-package.ts';
import { normalizePackagePath, parseManifest, pathProblem, readManifestJson, type PluginManifest } from './manifest.ts';

export type PackageFiles = Map<string, Uint8Array>;
export type ArchiveKind = 'zip' | 'gzip';

export interface LoadedPackage {
  manifest: PluginManifest;
  files: PackageFiles;
}

const MiB = 1024 * 1024;
export const PACKAGE_MAX_PACKED_BYTES = 5 * MiB;
export const PACKAGE_MAX_UNPACKED_BYTES = 20 * MiB;
export const PACKAGE_MAX_FILE_BYTES = 5 * MiB;
/** Files and folders together: each costs work whether or not it holds data. */
export const PACKAGE_MAX_ENTRIES = 2000;
// Tar adds a 512-byte header and up to 511 bytes of padding per entry, plus long-name
// records; this bounds the gunzipped stream before any entry is even looked at.
const TAR_MAX_BYTES = PACKAGE_MAX_UNPACKED_BYTES + PACKAGE_MAX_ENTRIES * 2048 + MiB;

function tooManyEntries(): PlughostError {
  return new PlughostError('PACKAGE_TOO_LARGE', `The package holds more than ${PACKAGE_MAX_ENTRIES} files and folders; remove files the plugin does not need.`);
}

function unpackedTooLarge(): PlughostError {
  return new PlughostError('PACKAGE_TOO_LARGE', `The package unpacks to more than ${PACKAGE_MAX_UNPACKED_BYTES / MiB} MiB; remove files the plugin does not need.`);
}

/** Tracks one package's running totals; shared by the archive readers and pack.ts. */
export class PackageBudget {
  entries = 0;
  bytes = 0;

  claimEntry(): void {
    this.entries += 1;
    if (this.entries > PACKAGE_MAX_ENTRIES) throw tooManyEntries();
  }

  claimBytes(path: string, fileBytes: number, added: number): void {
    this.bytes += added;
    if (fileBytes > PACKAGE_MAX_FILE_BYTES) throw fileTooLarge(path);
    if (this.bytes > PACKAGE_MAX_UNPACKED_BYTES) throw unpackedTooLarge();
  }
}

// details name the entry as stored, so a client can point at it; paths are not normalised yet.
function unsafe(entry: string, reason: string): PlughostError {
  return new PlughostError('INVALID_ARCHIVE', `Package entry ${JSON.stringify(entry)} ${reason}.`, {
    details: [{ path: entry, message: reason }],
  });
}

function fileTooLarge(path: string): PlughostError {
  const message = `is larger than ${PACKAGE_MAX_FILE_BYTES / MiB} MiB`;
  return new PlughostError('PACKAGE_TOO_LARGE', `File ${JSON.stringify(path)} ${message}; keep each file under that size.`, {
    details: [{ path, message }],
  });
}

/** The normalised path for an entry name, or a refusal naming the entry. */
export function entryPath(name: string): string {
  const problem = pathProblem(name);
  if (problem !== null) throw unsafe(name, problem);
  return normalizePackagePath(name);
}

/** Folder entries are skipped, but their names are checked too; tar's "./" is the root itself. */
function checkFolderName(name: string): void {
  const isRoot = !name.startsWith('/') && name.split('/').every((s) => s === '' || s === '.');
  if (!isRoot) entryPath(name);
}

/** Adds a file, refusing a second entry for the same path (the later one would win silently). */
export function addFile(files: PackageFiles, name: string, path: string, data: Uint8Array): void {
  if (files.has(path)) throw unsafe(name, `repeats the path ${JSON.stringify(path)}; keep one copy`);
  files.set(path, data);
}

// Both yauzl's and tar-stream's entry streams yield Buffers: no encoding is ever set on them.
async function readCounted(stream: AsyncIterable<unknown>, path: string, budget: PackageBudget): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const item of stream) {
    const chunk = item as Uint8Array;
    size += chunk.byteLength;
    budget.claimBytes(path, size, chunk.byteLength);
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

// macOS Finder adds resource-fork copies under __MACOSX/ to every zip it makes.
const isMacMetadata = (path: string): boolean => path === '__MACOSX' || path.startsWith('__MACOSX/');

const UNIX_TYPE_MASK = 0o170000;
const UNIX_REGULAR = 0o100000;
const UNIX_DIRECTORY = 0o040000;

function checkZipEntry(entry: ZipEntry, name: string): void {
  const madeBy = entry.versionMadeBy >> 8;
  const unixType = (entry.externalFileAttributes >>> 16) & UNIX_TYPE_MASK;
  // Unix (3) and macOS (19) zips keep the file mode, and with it symlinks, in the high bits.
  if ((madeBy === 3 || madeBy === 19) && unixType !== 0 && unixType !== UNIX_REGULAR && unixType !== UNIX_DIRECTORY) {
    throw unsafe(name, 'is a symbolic link or special file; packages may hold only regular files and folders');
  }
  if (entry.isEncrypted()) throw unsafe(name, 'is encrypted; zip the plugin without a password');
  if (!entry.canDecodeFileData()) throw unsafe(name, 'uses an unsupported compression method; zip it with deflate or store');
  // Only an early refusal: the bytes are counted again as they inflate.
  if (entry.uncompressedSize > PACKAGE_MAX_FILE_BYTES) throw fileTooLarge(name);
}

async function readZip(bytes: Buffer, files: PackageFiles, budget: PackageBudget): Promise<void> {
  // decodeStrings: false so that yauzl neither rewrites backslashes nor rejects names
  // with its own wording; every name goes through entryPath instead.
  const zip = await fromBufferPromise(bytes, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true });
  // The count in the zip's directory is only an early refusal; entries are counted again below.
  if (zip.entryCount > PACKAGE_MAX_ENTRIES) throw tooManyEntries();
  for await (const entry of zip.eachEntry()) {
    budget.claimEntry();
    const name = getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
    if (name.endsWith('/')) {
      checkFolderName(name);
      continue;
    }
    const path = entryPath(name);
    if (isMacMetadata(path)) continue;
    checkZipEntry(entry, name);
    const stream = await zip.openReadStreamPromise(entry);
    let data: Uint8Array;
    try {
      data = await readCounted(stream, path, budget);
    } catch (err) {
      if (isPlughostError(err)) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      // validateEntrySizes makes yauzl fail the stream as soon as the data outgrows the header.
      if (/too (many|few) bytes/.test(reason)) throw unsafe(name, 'holds more or less data than its header says; zip the plugin folder again');
      throw unsafe(name, `cannot be unpacked (${reason}); zip the plugin folder again`);
    }
    if (crc32(data) !== entry.crc32) throw unsafe(name, 'is corrupt (its checksum does not match); zip the plugin folder again');
    addFile(files, name, path, data);
  }
}

const TAR_TYPE_NAMES: Record<string, string> = {
  symlink: 'symbolic link', link: 'hard link', fifo: 'FIFO',
  'character-device': 'character device', 'block-device': 'block device',
};

function tarLimit(): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.byteLength;
      callback(seen > TAR_MAX_BYTES ? unpackedTooLarge() : null, chunk);
    },
  });
}

async function readTarGz(bytes: Buffer, files: PackageFiles, budget: PackageBudget): Promise<void> {
  const extract = tarExtract();
  // Hold the pipeline's failure until the entry loop ends, so the loop's own (more
  // specific) error wins and no rejection goes unobserved.
  const piped = pipeline(Readable.from([bytes]), createGunzip(), tarLimit(), extract).then(() => null, (err: unknown) => err);
  let failure: unknown = null;
  try {
    for await (const entry of extract) {
      budget.claimEntry();
      const { name, type } = entry.header;
      if (type === 'directory') {
        checkFolderName(name);
        entry.resume();
        continue;
      }
      const path = entryPath(name);
      if (type !== 'file' && type !== 'contiguous-file') {
        const kind = TAR_TYPE_NAMES[type ?? ''] ?? `${type ?? 'unknown'} entry`;
        throw unsafe(name, `is a ${kind}; packages may hold only regular files and folders`);
      }
      const data = await readCounted(entry, path, budget);
      if (!isMacMetadata(path)) addFile(files, name, path, data);
    }
  } catch (err) {
    failure = err;
    extract.destroy();
  }
  const pipeFailure = await piped;
  const cause = isPlughostError(failure) ? failure : isPlughostError(pipeFailure) ? pipeFailure : failure ?? pipeFailure;
  if (cause === null) return;
  if (isPlughostError(cause)) throw cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  throw new PlughostError('INVALID_ARCHIVE', `The package is not a readable .tar.gz file (${reason}); rebuild it with \`plughost publish\` or tar -czf.`, { cause });
}

/** When every file sits in one folder (as when zipping the folder itself), drop that folder. */
function stripCommonFolder(files: PackageFiles): PackageFiles {
  let folder: string | null = null;
  for (const path of files.keys()) {
    const slash = path.indexOf('/');
    if (slash < 0) return files;
    const first = path.slice(0, slash);
    if (folder === null) folder = first;
    else if (folder !== first) return files;
  }
  if (folder === null) return files;
  const cut = folder.length + 1;
  return new Map([...files].map(([path, data]) => [path.slice(cut), data]));
}

/** The checks every package shares once its files are known, from an archive or a folder. */
export function checkPackageTree(files: PackageFiles): void {
  for (const path of files.keys()) {
    for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
      if (files.has(path.slice(0, i))) throw unsafe(path, `sits inside ${JSON.stringify(path.slice(0, i))}, which is a file; rename one of them`);
    }
  }
  if (!files.has('plugin.json') && !files.has('manifest.json')) {
    throw new PlughostError('INVALID_ARCHIVE', 'The package has neither a plugin.json nor an FDK manifest.json at its root; put one at the top of the plugin folder.');
  }
}

function detectKind(bytes: Uint8Array): ArchiveKind | null {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'zip';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip';
  return null;
}

/** Unpacks a .zip or .tar.gz package into memory, refusing anything oversized or unsafe. */
export async function readPackageArchive(bytes: Uint8Array, kind?: ArchiveKind): Promise<PackageFiles> {
  if (bytes.byteLength > PACKAGE_MAX_PACKED_BYTES) {
    throw new PlughostError('PACKAGE_TOO_LARGE', `The package is ${(bytes.byteLength / MiB).toFixed(1)} MiB; the limit is ${PACKAGE_MAX_PACKED_BYTES / MiB} MiB packed.`);
  }
  const detected = detectKind(bytes);
  if (detected === null) {
    throw new PlughostError('INVALID_ARCHIVE', 'The package is neither a .zip nor a .tar.gz file; upload a zip of the plugin folder or a tar.gz.');
  }
  if (kind !== undefined && kind !== detected) {
    throw new PlughostError('INVALID_ARCHIVE', `The package was sent as ${kind} but is a ${detected} file; send it with the matching content type.`);
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const files: PackageFiles = new Map();
  const budget = new PackageBudget();
  if (detected === 'gzip') {
    await readTarGz(buffer, files, budget);
  } else {
    try {
      await readZip(buffer, files, budget);
    } catch (err) {
      if (isPlughostError(err)) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new PlughostError('INVALID_ARCHIVE', `The package is not a readable .zip file (${reason}); zip the plugin folder again.`, { cause: err });
    }
  }
  const stripped = stripCommonFolder(files);
  checkPackageTree(stripped);
  return stripped;
}

/**
 * The manifest of a package's files: its plugin.json, or an FDK app's manifest.json and config
 * read into the same shape (`identity` names what FDK's manifest does not).
 */
export function manifestOf(files: PackageFiles, identity: PackageIdentity = {}): PluginManifest {
  if (isFdkApp(files)) return fdkManifest(files, identity);
  const raw = readManifestJson(files.get('plugin.json') ?? new Uint8Array());
  // Haplo's own plugin.json (`pluginName`, `load`) is told apart by its fields.
  if (isHaploManifest(raw)) return haploManifest(raw, files, identity);
  return parseManifest(raw, new Set(files.keys()));
}

/** Unpacks a package and validates its manifest against the files it holds. */
export async function loadPackage(bytes: Uint8Array, kind?: ArchiveKind, identity?: PackageIdentity): Promise<LoadedPackage> {
  const files = await readPackageArchive(bytes, kind);
  return { manifest: manifestOf(files, identity), files };
}
