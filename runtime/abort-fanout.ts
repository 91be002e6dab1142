// One 'abort' listener per signal, however many operations wait on it. A run's signal is
// shared by every operation the run starts (fetches, timers); a listener each would make
// Node's listener list grow with them, and adding to that list costs as much as it is long
// (40,000 listeners take tens of seconds). Here each operation is one entry in a Set behind
// the signal's single listener: registering and unregistering cost O(1).
interface Fanout { callbacks: Set<() => void>; listener: () => void }

const fanouts = new WeakMap<AbortSignal, Fanout>();

/**
 * Calls `callback` once when `signal` aborts; at once (synchronously) when it already has.
 * Returns the function that unregisters it: call it when the operation ends, whichever way
 * (calling it again, or after the abort, does nothing). The signal's one listener is removed
 * with its last callback.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback();
    return noop;
  }
  let fanout = fanouts.get(signal);
  if (!fanout) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      fanouts.delete(signal);
      // Each entry is taken out before it runs; one unregistered by an earlier callback does
      // not run, as a listener removed during dispatch does not. As with listeners of their
      // own, one that throws does not stop the others; its error is reported as an uncaught
      // exception, as EventTarget reports a listener's.
      for (const cb of callbacks) {
        callbacks.delete(cb);
        try {
          cb();
        } catch (err) {
          process.nextTick(() => { throw err; });
        }
      }
    };
    fanout = { callbacks, listener };
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { callbacks, listener } = fanout;
  // A wrapper per registration: the same function registered twice is two entries, each
  // removed by its own disposer.
  const entry = (): void => callback();
  callbacks.add(entry);
  return () => {
    if (!callbacks.delete(entry) || callbacks.size > 0 || fanouts.get(signal)?.callbacks !== callbacks) return;
    fanouts.delete(signal);
    signal.removeEventListener('abort', listener);
  };
}

/** How many callbacks wait on `signal` (for tests and stats). */
export function abortWaiters(signal: AbortSignal): number {
  return fanouts.get(signal)?.callbacks.size ?? 0;
}

function noop(): void {}
