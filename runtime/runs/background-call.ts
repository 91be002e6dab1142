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

export async function backgroundPayload(egress: EgressClient, plugin: SandboxPlugin, spec: BackgroundSpec): Promise<BackgroundPayload> {
  if (!spec.http) return { name: spec.name, data: spec.data };
  const { url, method, headers, body } = spec.http;
  try {
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
      response: { successful: false, status: '', type: 'FAIL', errorMessage: `${e.code ?? 'EGRESS_FAILED'}: ${e.message}`, headers: {}, bodyText: '', mimeType: 'application/octet-stream' },
    };
  }
}
