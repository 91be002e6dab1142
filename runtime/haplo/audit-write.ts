// Haplo's O.audit.write({auditEntryType, data, …}) into the workspace's audit log (the one the
// integration messages' manual acts are in, GET …/integration-messages/audit), with the plugin
// as the actor. Haplo's rule for the type: "<plugin name>:<entry type>", this plugin's own name.
import { PlughostError } from '../errors.ts';
import type { SandboxPlugin } from '../sandbox/types.ts';
import type { Store } from '../store/store.ts';

const TYPE = /^[a-z0-9_]{1,100}:[a-z0-9_-]{1,100}$/;
/** One entry's JSON; a run writes at most 100 (runtime/sandbox/plugin-isolate.ts). */
const MAX_BYTES = 16 * 1024;

export function createAuditWrite(deps: { store: Store; now: () => number }) {
  return async (plugin: SandboxPlugin, request: { entry?: unknown }): Promise<undefined> => {
    const entry = (request.entry ?? {}) as Record<string, unknown>;
    const type = String(entry.auditEntryType ?? '');
    const pluginName = plugin.manifest.haplo?.pluginName ?? plugin.manifest.name;
    if (!TYPE.test(type) || !type.startsWith(`${pluginName.toLowerCase()}:`)) {
      throw new PlughostError('INVALID_BODY', `O.audit.write: auditEntryType must be "${pluginName.toLowerCase()}:<entry_type>" in lower case, not ${JSON.stringify(type.slice(0, 100))}`);
    }
    const { auditEntryType: _t, ...rest } = entry;
    const bytes = Buffer.byteLength(JSON.stringify(rest));
    if (bytes > MAX_BYTES) throw new PlughostError('PLUGIN_LIMIT', `O.audit.write: the entry is ${bytes} bytes of JSON; at most ${MAX_BYTES}`, { details: { limit: 'auditEntryBytes' } });
    // The installation is the host's to say: it comes last, over anything the entry claims.
    await deps.store.audit.record(plugin.workspaceId, `plugin:${pluginName}`, type, { ...rest, installationId: plugin.installationId }, deps.now());
    return undefined;
  };
}
