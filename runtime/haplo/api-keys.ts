// Making an API key for a Haplo `/api` respond root, one way for the REST API and the admin UI:
// the input checked (a name, a path under /api/), a new key whose SHA-256 hash alone is stored,
// and the act audited. The key is in the answer only, never again. Listing and revoking are
// store.apiKeys'; runtime/http/haplo-responds.ts is where a key opens its paths.
import { z } from 'zod';
import type { Principal } from '../auth.ts';
import { validate } from '../http/body.ts';
import { newId, newToken } from '../ids.ts';
import { hashToken } from '../secrets.ts';
import type { Store } from '../store/store.ts';

/** `/api/` and one or more path segments; none empty, none starting with a dot (no `.` or `..`). */
const API_PATH = /^\/api(\/[A-Za-z0-9_:~-][A-Za-z0-9_.:~-]*)+$/;

export const apiKeyInput = z.object({
  name: z.string().trim().min(1).max(200),
  path: z.string().max(200).regex(API_PATH, 'must be a path under /api/ such as "/api/haplo-integration-messages", without a trailing slash, "." or ".." segments'),
}).strict();

export interface CreatedApiKey { id: string; name: string; path: string; key: string; createdAt: number }

/**
 * Makes an API key of `workspaceId` from `input` (validated here: INVALID_BODY names each bad
 * field), stores its hash and audits the act as `by`. The answer holds the key, once.
 */
export async function createApiKey(deps: { store: Store; now: () => number }, workspaceId: string, input: unknown, by: Principal): Promise<CreatedApiKey> {
  const { store } = deps;
  await store.workspaces.require(workspaceId);
  const { name, path } = validate(apiKeyInput, input);
  const key = newToken('pha');
  const createdAt = deps.now();
  const id = newId('ak');
  await store.apiKeys.create({ id, workspaceId, name, pathPrefix: path, keyHash: hashToken(key), createdAt });
  await store.audit.record(workspaceId, `${by.kind}:${by.tokenId}`, 'create-api-key', { id, name, path }, createdAt);
  return { id, name, path, key, createdAt };
}
