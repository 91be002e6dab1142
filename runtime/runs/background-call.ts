// What a Haplo background run hands the plugin: the job's callback name and data, and for an
// O.httpClient job the response of the request it names, made here under the egress policy
// (Haplo's pHTTPClient: any host the policy lets through). A request that fails is a response
// too (`successful: false`, with the reason), as Haplo gives it to the callback.
import type { EgressClient } from '../egress/index.ts';
import type { BackgroundSpec } from '../haplo/background.ts';
import type { SandboxPlugin } from '../sandbox/types.ts';

export interface BackgroundPayload {
  name: string;
  data: unknown;
  http?: BackgroundSpec['http'];
  response?: { successful: boolean; status: string; type: string; errorMessage: string | null; headers: Record<string, string>; bodyText: string; mimeType: string };
}

/** The Authorization header of a keychain credential (the installation's iparams.keychain), added only now. */
function credentialHeader(plugin: SandboxPlugin, name: string | undefined): Record<string, string> {
  if (name === undefined) return {};
  const keychain = plugin.iparams.keychain as Record<string, { account?: Record<string, unknown>; secret?: Record<string, unknown> }> | undefined;
  const c = keychain && Object.hasOwn(keychain, name) ? keychain[name] : undefined;
  if (!c) throw Object.assign(new Error(`no credential named "${name}" in the keychain (the installation's iparams.keychain) any more`), { code: 'EGRESS_FAILED' });
  if (c.account?.username !== undefined) return { Authorization: `Basic ${Buffer.from(`${String(c.account.username)}:${String(c.secret?.password ?? '')}`).toString('base64')}` };
  const token = c.secret?.token ?? c.secret?.bearer;
  if (token !== undefined) return { Authorization: `Bearer ${String(token)}` };
  throw Object.assign(new Error(`credential "${name}" has no account.username or secret.token`), { code: 'EGRESS_FAILED' });
}

/** A response that never came: the callback hears why. */
const noResponse = (errorMessage: string): NonNullable<BackgroundPayload['response']> =>
  ({ successful: false, status: '', type: 'FAIL', errorMessage, headers: {}, bodyText: '', mimeType: 'application/octet-stream' });

/**
 * `once` spends the job's one send (false: it was spent, by an attempt cut short by a crash or a
 * lost lease): the request is then not sent again, and the callback hears why.
 */
export async function backgroundPayload(egress: EgressClient, plugin: SandboxPlugin, spec: BackgroundSpec, once: () => Promise<boolean>): Promise<BackgroundPayload> {
  if (!spec.http) return { name: spec.name, data: spec.data };
  const { url, method, body } = spec.http;
  if (!(await once())) {
    return {
      name: spec.name, data: spec.data, http: spec.http,
      response: noResponse('an earlier attempt at this request was cut short (the host stopped or lost its lease); it may have been sent, so it is not sent again'),
    };
  }
  try {
    const headers = { ...spec.http.headers, ...credentialHeader(plugin, spec.http.keychain) };
    const res = await egress.request({ url, method, headers, ...(body === undefined ? {} : { body }) }, { permittedHosts: plugin.manifest.permissions.hosts, installationId: plugin.installationId });
    const successful = res.status >= 200 && res.status < 300;
    return {
      name: spec.name, data: spec.data, http: spec.http,
      response: {
        successful, status: String(res.status), type: successful ? 'SUCCEEDED' : 'FAIL', errorMessage: successful ? null : `HTTP status ${res.status}`,
        headers: res.headers, bodyText: Buffer.from(res.body).toString('utf8'), mimeType: (res.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim(),
      },
    };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return {
      name: spec.name, data: spec.data, http: spec.http,
      response: noResponse(`${e.code ?? 'EGRESS_FAILED'}: ${e.message}`),
    };
  }
}
