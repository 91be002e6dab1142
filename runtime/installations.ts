// Installing plugins into workspaces: install, change (version, iparams, active), uninstall,
// and turning an installation into what the sandbox runs. Secure iparams are sealed before
// they are stored and never leave this module except into the plugin's own isolate.
import { createHash } from 'node:crypto';
import type { HostEvents } from './events.ts';
import { PlughostError } from './errors.ts';
import { newId } from './ids.ts';
import type { PluginManifest } from './packages/manifest.ts';
import { redactIparams, validateIparams } from './packages/iparams.ts';
import type { Sandbox } from './sandbox/sandbox.ts';
import type { LoadInfo, SandboxPlugin } from './sandbox/types.ts';
import type { Secrets } from './secrets.ts';
import type { Installation } from './store/installations.ts';
import type { PageRequest } from './store/page.ts';
import type { Store } from './store/store.ts';

export interface InstallInput { plugin: string; version?: string | undefined; iparams?: Record<string, unknown> | undefined; active?: boolean | undefined }
export interface ChangeInput { version?: string | undefined; iparams?: Record<string, unknown> | undefined; active?: boolean | undefined }

export interface InstallationsDeps {
  store: Store; secrets: Secrets; sandbox: Sandbox; events: HostEvents; now: () => number; cacheMs?: number;
  /** Told after an install or change, with what loading the code revealed (its hooks); undefined if it failed to load or is inactive. */
  afterChange?: (inst: Installation, loaded: LoadInfo | undefined) => Promise<void>;
  /**
   * Runs a Freshworks app lifecycle event (onAppInstall, onAppUninstall, onSettingsUpdate,
   * afterAppUpdate) the manifest declares, as one run; resolves with the app's error message
   * when it failed (renderData(error), a rejection, a timeout), else undefined.
   */
  lifecycle?: (event: LifecycleEvent, plugin: SandboxPlugin) => Promise<string | undefined>;
}

export type LifecycleEvent = 'onAppInstall' | 'onAppUninstall' | 'onSettingsUpdate' | 'afterAppUpdate';

export function createInstallations(deps: InstallationsDeps) {
  /** Whether the manifest declares a handler for a lifecycle event (a host without `lifecycle` runs none). */
  const declares = (manifest: PluginManifest, event: LifecycleEvent) => deps.lifecycle !== undefined && Object.hasOwn(manifest.events, event);
  const { store, secrets, sandbox, events, now } = deps;
  const cacheMs = deps.cacheMs ?? 1000;
  const routes = new Map<string, { at: number; plugin: Promise<SandboxPlugin | undefined> }>();
  const responders = new Map<string, { at: number; all: Promise<Array<{ root: string; plugin: SandboxPlugin }>> }>();

  // A published version never changes: its files and manifest are read once (the 200 most
  // recently loaded versions kept), so a route whose cache entry expired waits on one lookup.
  const filesOf = byVersion((name, version) => store.pluginVersions.files(name, version));
  const manifestOf = byVersion(async (name, version): Promise<PluginManifest> => {
    const v = await store.pluginVersions.get(name, version);
    if (!v) throw new PlughostError('PLUGIN_NOT_FOUND', `no plugin ${name}@${version} is published`);
    return v.manifest;
  });

  const toSandboxPlugin = async (inst: Installation): Promise<SandboxPlugin> => {
    const manifest = await manifestOf(inst.pluginName, inst.pluginVersion);
    const secure = inst.secureIparams ? (secrets.open(inst.secureIparams) as Record<string, unknown>) : {};
    // Only Haplo-format code reads the workspace (O.application): others skip the lookup.
    const ws = manifest.haplo ? await store.workspaces.get(inst.workspaceId) : undefined;
    const workspace = ws ? { name: ws.name, domain: ws.domain, config: ws.config } : undefined;
    return {
      ...(workspace ? { workspace } : {}),
      installationId: inst.id, workspaceId: inst.workspaceId, namespace: inst.namespace,
      // What the isolate was built from: a new version, new settings, or (Haplo) a changed O.application.
      revision: `${inst.pluginVersion}:${inst.updatedAt}${workspace ? `:${createHash('sha256').update(JSON.stringify(workspace)).digest('hex').slice(0, 16)}` : ''}`, manifest,
      files: await filesOf(inst.pluginName, inst.pluginVersion), iparams: { ...inst.iparams, ...secure },
    };
  };

  const changed = (inst: Installation, change: 'installed' | 'updated' | 'uninstalled') => {
    routes.delete(`${inst.workspaceId}/${inst.namespace}`);
    responders.delete(`${inst.workspaceId}//respond`);
    sandbox.evict(inst.id);
    events.emit('installation:changed', { workspaceId: inst.workspaceId, installationId: inst.id, change });
  };

  const warm = async (inst: Installation) => {
    const { loaded, error } = inst.active ? await sandbox.warm(await toSandboxPlugin(inst)) : {};
    if (loaded) {
      await store.installations.setLoadInfo(inst.id, loaded);
      inst.services = loaded.services;
      inst.loadError = null;
    } else if (error) {
      // A broken installation says so (API, admin UI); what it registered before is kept.
      await store.installations.setLoadError(inst.id, error);
      inst.loadError = error;
    }
    await deps.afterChange?.(inst, loaded);
  };

  /** The installation as the admin API shows it: secure iparams never, only which are set. */
  const view = async (inst: Installation) => {
    const manifest = await manifestOf(inst.pluginName, inst.pluginVersion);
    const secureSet = inst.secureIparams ? Object.keys(secrets.open(inst.secureIparams) as object) : [];
    const { values } = redactIparams(manifest, inst.iparams);
    return {
      id: inst.id, workspaceId: inst.workspaceId, plugin: inst.pluginName, version: inst.pluginVersion, namespace: inst.namespace,
      displayName: manifest.displayName, active: inst.active, iparams: values, secureIparamsSet: secureSet, loadError: inst.loadError ?? null,
      routes: manifest.services.map((s) => ({ route: s.route, access: s.access, path: `/workspaces/${inst.workspaceId}/${inst.namespace}/${s.route}` })),
      createdAt: new Date(inst.createdAt).toISOString(), updatedAt: new Date(inst.updatedAt).toISOString(),
    };
  };

  return {
    view,
    toSandboxPlugin,

    async install(workspaceId: string, input: InstallInput) {
      await store.workspaces.require(workspaceId);
      const version = input.version ?? (await store.pluginVersions.latest(input.plugin)).version;
      const manifest = await manifestOf(input.plugin, version);
      const { plain, secure } = validateIparams(manifest, input.iparams ?? {}, {});
      sandbox.admit(manifest, { active: input.active ?? true }); // its isolate must fit the host's memory budget
      const at = now();
      const active = input.active ?? true;
      const checksInstall = declares(manifest, 'onAppInstall');
      // An app that checks its install is stored inactive until onAppInstall says yes, so the
      // schedules and data it sets up have their installation; a no removes all of it.
      let inst = await store.installations.insert({
        id: newId('inst', at), workspaceId, pluginName: input.plugin, pluginVersion: version, namespace: manifest.namespace,
        iparams: plain, secureIparams: Object.keys(secure).length ? secrets.seal(secure) : null,
        active: checksInstall ? false : active, createdAt: at, updatedAt: at, services: [],
      });
      if (checksInstall) {
        const refusal = await deps.lifecycle!('onAppInstall', await toSandboxPlugin(inst));
        if (refusal !== undefined) {
          await store.installations.delete(workspaceId, inst.id);
          changed(inst, 'uninstalled');
          throw new PlughostError('APP_INSTALL_FAILED', `${input.plugin}'s onAppInstall refused the installation: ${refusal.split('\n')[0]}`);
        }
        if (active) {
          inst = { ...inst, active: true, updatedAt: Math.max(now(), inst.updatedAt + 1) };
          await store.installations.update(inst);
        }
      }
      changed(inst, 'installed');
      await warm(inst);
      return view(inst);
    },

    async change(workspaceId: string, id: string, input: ChangeInput) {
      const inst = await store.installations.require(workspaceId, id);
      const version = input.version ?? inst.pluginVersion;
      const manifest = await manifestOf(inst.pluginName, version);
      if (manifest.namespace !== inst.namespace) {
        throw new PlughostError('INVALID_BODY', `version ${version} uses namespace \`${manifest.namespace}\`, not \`${inst.namespace}\`; install it separately instead`);
      }
      const oldSecure = inst.secureIparams ? (secrets.open(inst.secureIparams) as Record<string, unknown>) : {};
      // An upgrade keeps the values the new version still declares and re-checks them.
      const kept = Object.fromEntries(Object.entries({ ...inst.iparams, ...oldSecure }).filter(([k]) => manifest.openIparams || Object.hasOwn(manifest.iparams, k)));
      const { plain, secure } = validateIparams(manifest, { ...kept, ...(input.iparams ?? {}) }, {});
      const updated: Installation = {
        ...inst, pluginVersion: version, iparams: plain, secureIparams: Object.keys(secure).length ? secrets.seal(secure) : null,
        active: input.active ?? inst.active, updatedAt: Math.max(now(), inst.updatedAt + 1),
      };
      // Running it needs its isolate to fit; deactivating never does (even one the budget outgrew).
      if (updated.active) sandbox.admit(manifest, { installationId: inst.id, active: true });
      // onSettingsUpdate may refuse new parameters (renderData(error)), as FDK lets it; nothing changes then.
      if (input.iparams !== undefined && declares(manifest, 'onSettingsUpdate')) {
        const refusal = await deps.lifecycle!('onSettingsUpdate', await toSandboxPlugin(updated));
        if (refusal !== undefined) throw new PlughostError('APP_SETTINGS_REFUSED', `${inst.pluginName}'s onSettingsUpdate refused the new parameters: ${refusal.split('\n')[0]}`);
      }
      await store.installations.update(updated);
      changed(updated, 'updated');
      await warm(updated);
      if (version !== inst.pluginVersion && updated.active && declares(manifest, 'afterAppUpdate')) {
        await deps.lifecycle!('afterAppUpdate', await toSandboxPlugin(updated)); // its failure is in its run; the update stands
      }
      return view(updated);
    },

    async uninstall(workspaceId: string, id: string) {
      const inst = await store.installations.require(workspaceId, id);
      const manifest = await manifestOf(inst.pluginName, inst.pluginVersion);
      // Its failure is in its run: an admin can always remove an app.
      if (declares(manifest, 'onAppUninstall')) await deps.lifecycle!('onAppUninstall', await toSandboxPlugin(inst));
      await store.pluginTables.dropAll(id); // its P.db tables (the rest of its data goes with its row)
      await store.installations.delete(workspaceId, id);
      changed(inst, 'uninstalled');
    },

    /** The workspace changed (its name, domain or config data, which Haplo code reads): its installations are looked up afresh. */
    forgetWorkspace(workspaceId: string) {
      for (const key of routes.keys()) if (key.startsWith(`${workspaceId}/`)) routes.delete(key);
      responders.delete(`${workspaceId}//respond`);
    },

    async list(workspaceId: string, page: PageRequest) {
      const result = await store.installations.list(workspaceId, page);
      return { data: await Promise.all(result.data.map(view)), nextCursor: result.nextCursor };
    },

    /**
     * The active Haplo-format installation whose `respond` roots hold `path` (`/do/x/…`,
     * `/api/x/…`) in a workspace. Cached briefly, like byNamespace.
     */
    async byRespondRoot(workspaceId: string, path: string): Promise<SandboxPlugin | undefined> {
      const key = `${workspaceId}//respond`;
      let hit = responders.get(key);
      if (!hit || Date.now() - hit.at >= cacheMs) {
        const all = (async () => {
          const out: Array<{ root: string; plugin: SandboxPlugin }> = [];
          for (const inst of await store.installations.active(workspaceId)) {
            const manifest = await manifestOf(inst.pluginName, inst.pluginVersion);
            if (!manifest.haplo?.respond.length) continue;
            const plugin = await toSandboxPlugin(inst);
            for (const root of manifest.haplo.respond) out.push({ root, plugin });
          }
          return out;
        })();
        hit = { at: Date.now(), all };
        responders.set(key, hit);
        all.catch(() => responders.delete(key));
      }
      const found = (await hit.all).filter((r) => path === r.root || path.startsWith(r.root + '/')).sort((a, b) => b.root.length - a.root.length)[0];
      return found?.plugin;
    },

    /**
     * The active installation serving `namespace` in a workspace, for the request path.
     * Cached briefly; changes made through this process drop the entry at once.
     */
    byNamespace(workspaceId: string, namespace: string): Promise<SandboxPlugin | undefined> {
      const key = `${workspaceId}/${namespace}`;
      const hit = routes.get(key);
      if (hit && Date.now() - hit.at < cacheMs) return hit.plugin;
      const plugin = store.installations.byNamespace(workspaceId, namespace).then((inst) => (inst && inst.active ? toSandboxPlugin(inst) : undefined));
      routes.set(key, { at: Date.now(), plugin });
      plugin.catch(() => routes.delete(key));
      if (routes.size > 10_000) routes.delete(routes.keys().next().value!);
      return plugin;
    },
  };
}
export type Installations = ReturnType<typeof createInstallations>;

/** Memoizes `load` per name@version (a failure is not kept), the 200 most recent. */
function byVersion<T>(load: (name: string, version: string) => Promise<T>): (name: string, version: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (name, version) => {
    const key = `${name}@${version}`;
    let p = cache.get(key);
    if (!p) {
      p = load(name, version);
      p.catch(() => cache.delete(key));
      cache.set(key, p);
      if (cache.size > 200) cache.delete(cache.keys().next().value!);
    }
    return p;
  };
}
