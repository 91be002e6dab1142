// Plugin packages: plugin.json, installation parameters, and the archives and folders that carry them.

export { MANIFEST_MAX_BYTES, RESERVED_NAMESPACES, parseManifest, parseManifestFile } from './manifest.ts';
export type { ManifestProblem, PluginManifest, PluginService, RequestTemplate, ServiceAccess } from './manifest.ts';
export { IPARAM_TYPES, checkIparamValue, redactIparams, validateIparams } from './iparams.ts';
export type { IparamOption, IparamProblem, IparamSpec, IparamType, ValidateIparamsOptions, ValidatedIparams } from './iparams.ts';
export {
  PACKAGE_MAX_ENTRIES, PACKAGE_MAX_FILE_BYTES, PACKAGE_MAX_PACKED_BYTES, PACKAGE_MAX_UNPACKED_BYTES,
  loadPackage, readPackageArchive,
} from './archive.ts';
export type { ArchiveKind, LoadedPackage, PackageFiles } from './archive.ts';
export { packDirectory, packFiles, readPackageDirectory } from './pack.ts';
