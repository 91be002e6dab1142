// Maps every error to `{"error": {"code", "message"}}` with the code's status. Only exposed
// messages reach the client; anything unexpected is logged and answered as INTERNAL.
import type { Middleware } from 'koa';
import { PlughostError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { storeFailure } from '../store/dialect.ts';

export function errorMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new PlughostError('NOT_FOUND', `no such path: ${ctx.method} ${ctx.path}`);
    } catch (caught) {
      let err = caught;
      if (!(err instanceof PlughostError)) {
        const status = (err as { status?: number }).status;
        const store = storeFailure(err);
        if (store) err = store;
        else if (status === 405) err = new PlughostError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`, { cause: err });
        else if (status === 404) err = new PlughostError('NOT_FOUND', `no such path: ${ctx.method} ${ctx.path}`, { cause: err });
        else err = new PlughostError('INTERNAL', 'internal error', { cause: err });
      }
      const e = err as PlughostError;
      if (e.status >= 500 && !e.code.startsWith('PLUGIN_')) log.error({ err: e.cause ?? e, code: e.code, path: ctx.path }, e.message);
      ctx.status = e.status;
      // The rest of an oversized body is still on the socket: close it rather than misread it.
      if (e.status === 413) ctx.set('connection', 'close');
      ctx.set('cache-control', 'no-store');
      ctx.body = { error: { code: e.code, message: e.expose ? e.message : 'internal error', ...(e.details !== undefined ? { details: e.details } : {}) } };
    }
  };
}
