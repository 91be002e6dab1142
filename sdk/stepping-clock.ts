// Virtual time for the test harness: the host's virtual clock, wrapped so that it knows its
// pending timers. Moving time then stops at each timer on the way, as real time would, so
// every occurrence fires on time instead of being coalesced as a misfire.
import { createVirtualClock, type Clock } from '../runtime/clock.ts';

/** A virtual clock that knows its pending timers, so time can stop at each one in turn. */
export function steppingClock(startMs: number) {
  const inner = createVirtualClock(startMs);
  const pending = new Map<number, number>();
  let seq = 0;
  const clock: Clock = {
    now: () => inner.now(),
    at(atMs, fn) {
      const id = ++seq;
      pending.set(id, atMs);
      const handle = inner.at(atMs, () => {
        pending.delete(id);
        fn();
      });
      return { cancel: () => { pending.delete(id); handle.cancel(); } };
    },
  };
  const nextAfter = (ms: number) => {
    let next: number | undefined;
    for (const at of pending.values()) if (at > ms && (next === undefined || at < next)) next = at;
    return next;
  };
  return { clock, inner, nextAfter };
}
