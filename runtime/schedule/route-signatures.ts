// Verifying the X-Plughost-Signature of a call to an `access: "signed"` plugin route. The
// scheduler signs each webhook's body with that webhook's secret, and a plugin sees that
// secret (Zengine's X-Zengine-Webhook-Key), so a signature is bound to its target: only the
// secret of a webhook whose in-process url is this very route (workspace, namespace, route)
// opens it. A signature is spent when it is accepted, in the store, so a replay within its
// window is refused on every host of the cluster. Retries are signed afresh (a new `t`).
import type { Headers } from '../runs/route-call.ts';
import type { Schedule } from '../store/schedules.ts';
import type { Store } from '../store/store.ts';
import { readSignatureHeader, signedWith } from './signature.ts';
import { webhookRoute, type RouteTarget, type Webhooks } from './webhooks.ts';

export interface RouteSignatures {
  /**
   * True when the headers carry a fresh signature over `rawBody` made with the secret of a
   * scheduled webhook that targets this route, and it was not used before (it is now).
   * `sentBy`: the webhook whose in-process call this is (set by the scheduler, never from
   * HTTP); the host signed it itself, so it is accepted even when the same signature was
   * already spent (two runs of one webhook within a second sign the same bytes), and spent
   * so the plugin cannot replay it.
   */
  verify(target: RouteTarget, headers: Headers, rawBody: string, sentBy?: string): Promise<boolean>;
}

const targets = (s: Schedule, t: RouteTarget): boolean => {
  const url = (s.spec as { url?: unknown }).url;
  if (typeof url !== 'string' || !url.startsWith('/')) return false;
  const r = webhookRoute(s.workspaceId, url);
  return !('problem' in r) && r.workspaceId === t.workspaceId && r.namespace === t.namespace && r.route === t.route;
};

export function createRouteSignatures(deps: { store: Store; webhooks: Webhooks; now: () => number }): RouteSignatures {
  const { store, webhooks, now } = deps;
  return {
    async verify(target, headers, rawBody, sentBy) {
      const header = headers['x-plughost-signature'];
      const sig = readSignatureHeader(Array.isArray(header) ? header[0] : header, now());
      if (!sig) return false;
      const candidates = sentBy
        ? [await store.schedules.get(sentBy)].filter((s): s is Schedule => s?.kind === 'webhook')
        : await store.schedules.list(target.workspaceId, ['webhook']);
      const signer = candidates.find((s) => s.secret && targets(s, target) && signedWith(sig, webhooks.secretOf(s), rawBody));
      if (!signer) return false;
      const fresh = await store.seenSignatures.spend(sig.v1, sig.validUntil, now());
      return fresh || sentBy !== undefined;
    },
  };
}
