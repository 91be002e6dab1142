// Verifying the X-Plughost-Signature of a call to an `access: "signed"` plugin route: the
// scheduler signs each webhook's body with that webhook's secret.
import type { Headers } from '../runs/route-call.ts';
import type { Store } from '../store/store.ts';
import { verifySignatureHeader } from './signature.ts';
import type { Webhooks } from './webhooks.ts';

export interface RouteSignatures {
  /** True when the headers carry a valid scheduled-webhook signature of the workspace over `rawBody`. */
  verify(workspaceId: string, headers: Headers, rawBody: string): Promise<boolean>;
}

export function createRouteSignatures(deps: { store: Store; webhooks: Webhooks; now: () => number }): RouteSignatures {
  const { store, webhooks, now } = deps;
  return {
    async verify(workspaceId, headers, rawBody) {
      const header = headers['x-plughost-signature'];
      const signature = Array.isArray(header) ? header[0] : header;
      if (!signature) return false;
      for (const s of await store.schedules.list(workspaceId, ['webhook'])) {
        if (verifySignatureHeader(signature, webhooks.secretOf(s), rawBody, now())) return true;
      }
      return false;
    },
  };
}
