// The `fdk.targetUrl` op behind Freshworks' `generateTargetUrl()`: the URL on this host where a
// third party posts the installation's external events (http/external-events.ts). The base is
// the host's public URL (`--public-url`), else the address it listens on.
import { targetToken } from '../../http/external-events.ts';
import type { Secrets } from '../../secrets.ts';
import type { Ops } from '../types.ts';

export function targetUrlOps(secrets: Secrets, baseUrl: () => string): Ops {
  return {
    async 'fdk.targetUrl'({ plugin }) {
      return `${baseUrl().replace(/\/+$/, '')}/workspaces/${plugin.workspaceId}/${plugin.namespace}/external/${targetToken(secrets, plugin.installationId)}`;
    },
  };
}
