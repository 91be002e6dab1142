// A blank isolate with the guest glue loaded and its bootstrap globals deleted, ready to
// be given one plugin package. Kept separate from the plugin so that a few can be prepared
// ahead of need (the spare pool) and a cold installation skips isolate start-up.
import ivm from 'isolated-vm';
import { guardExit } from './exit-guard.ts';
import { guestSource } from './guest-source.ts';

export interface GuestLimits { maxResultBytes: number; maxLogBytes: number }

/** One message from the guest: its type, its invocation, then up to three strings or numbers. */
export type ChannelHandler = (type: string, invocation: number, a?: unknown, b?: unknown, c?: unknown) => void;

export interface PreparedIsolate {
  readonly isolate: ivm.Isolate;
  readonly context: ivm.Context;
  readonly dispatch: ivm.Reference<(id: number, kind: string, payloadJson: string, clockOffset?: number, endedIds?: string) => void>;
  readonly deliver: ivm.Reference<(opId: number, ok: boolean, payloadJson?: string, bodyKey?: string, body?: string) => void>;
  /**
   * Runs the due timers of one invocation (the host's one wake-up per isolate). Like dispatch,
   * it first drops what the invocations in `endedIds` (a JSON array) left in the guest.
   */
  readonly tick: ivm.Reference<(invocation: number, endedIds?: string) => void>;
  /** `lines,bytes` of log text the guest dropped for an invocation. */
  readonly droppedOf: ivm.Reference<(invocation: number) => string>;
  readonly memoryMb: number;
  /**
   * Routes the guest's channel to `handler`, and its synchronous service calls (`O.service`)
   * to `service`; set once, by the plugin isolate that takes this one.
   */
  listen(handler: ChannelHandler, service: (request: string) => Promise<string>): void;
  dispose(): void;
}

let compiled: { source: string; cache?: ivm.ExternalCopy<ArrayBuffer> } | undefined;

export async function prepareIsolate(memoryMb: number, limits: GuestLimits): Promise<PreparedIsolate> {
  guardExit();
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
  try {
    const context = await isolate.createContext();
    let handler: ChannelHandler | undefined;
    // The guest captures this callback at bootstrap, so it must exist before the plugin is
    // known: it forwards to whichever handler the owning plugin isolate installs. It does not
    // block the isolate (a blocking callback costs a thread hand-off per message). isolated-vm
    // queues these messages to Node's thread ahead of the result of the entry that posted them,
    // so by the time an entry's apply resolves its messages have been handled.
    await context.global.set('__plughost_post', new ivm.Callback((type: string, invocation: number, a?: unknown, b?: unknown, c?: unknown) => {
      handler?.(type, invocation, a, b, c);
    }, { ignored: true }));
    await context.global.set('__plughost_limits', JSON.stringify(limits));
    // Haplo's O.service is synchronous, yet may need another isolate: the guest glue waits on
    // this with applySyncPromise, which blocks only the calling isolate, never Node's thread.
    // The glue keeps it in a closure; plugin code never sees it.
    let serviceHandler: ((request: string) => Promise<string>) | undefined;
    await context.global.set('__plughost_service', new ivm.Reference(async (request: string) =>
      serviceHandler ? serviceHandler(request) : JSON.stringify({ ok: false, error: { message: 'services are not available yet' } })));
    compiled ??= { source: guestSource() };
    const script: ivm.Script & ivm.CachedDataResult = await isolate.compileScript(compiled.source, {
      filename: 'plughost:///guest.js',
      ...(compiled.cache ? { cachedData: compiled.cache } : { produceCachedData: true }),
    });
    if (!compiled.cache && script.cachedData) compiled.cache = script.cachedData;
    const api = (await script.run(context, { reference: true, timeout: 5000 })) as ivm.Reference<Record<string, unknown>>;
    const dispatch = (await api.get('dispatch', { reference: true })) as PreparedIsolate['dispatch'];
    const deliver = (await api.get('deliver', { reference: true })) as PreparedIsolate['deliver'];
    const tick = (await api.get('tick', { reference: true })) as PreparedIsolate['tick'];
    const droppedOf = (await api.get('droppedOf', { reference: true })) as PreparedIsolate['droppedOf'];
    api.release();
    script.release();
    return {
      isolate, context, dispatch, deliver, tick, droppedOf, memoryMb,
      listen(h, service) { handler = h; serviceHandler = service; },
      dispose() {
        handler = undefined;
        serviceHandler = undefined;
        if (!isolate.isDisposed) isolate.dispose();
      },
    };
  } catch (err) {
    if (!isolate.isDisposed) isolate.dispose();
    throw err;
  }
}
