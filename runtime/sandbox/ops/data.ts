// The `data` op: `zn-http` with a relative path reads the calling workspace's data API
// in-process. Errors come back as an HTTP-shaped answer, which zn-http turns into a rejection.
import type { DataApi } from '../../data-api.ts';
import { isPlughostError } from '../../errors.ts';
import type { Ops } from '../types.ts';

export function dataOps(api: DataApi): Ops {
  return {
    async data({ args, plugin }) {
      try {
        return await api.handle(plugin.workspaceId, { method: String(args.method ?? 'GET'), path: String(args.path ?? '/'), query: {}, body: args.body });
      } catch (err) {
        if (!isPlughostError(err) || !err.expose) throw err;
        return { status: err.status, body: { status: err.status, code: err.code, message: err.message } };
      }
    },
  };
}
