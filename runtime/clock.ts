// Time as a dependency. The scheduler and every timestamp the host writes read `clock.now()`;
// tests and `plughost dev` pass a virtual clock and move it instead of waiting.

export interface TimerHandle { cancel(): void }

export interface Clock {
  now(): number;
  /** Calls `fn` once `clock.now()` has reached `atMs` (at once if it already has). */
  at(atMs: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  at(atMs, fn) {
    // setTimeout takes at most 2^31-1 ms; longer waits re-arm themselves.
    let timer: NodeJS.Timeout;
    const arm = () => {
      const wait = Math.min(Math.max(atMs - Date.now(), 0), 2 ** 31 - 1);
      timer = setTimeout(() => (Date.now() >= atMs ? fn() : arm()), wait);
      timer.unref?.();
    };
    arm();
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface VirtualClock extends Clock {
  /** Moves time forward, firing due timers in time order; awaits each fired callback's turn. */
  advance(ms: number): Promise<void>;
  set(ms: number): Promise<void>;
}

export function createVirtualClock(startMs: number): VirtualClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { atMs: number; fn: () => void }>();

  const fireDue = async () => {
    for (;;) {
      let next: [number, { atMs: number; fn: () => void }] | undefined;
      for (const entry of timers) {
        if (entry[1].atMs <= now && (!next || entry[1].atMs < next[1].atMs)) next = entry;
      }
      if (!next) return;
      timers.delete(next[0]);
      next[1].fn();
      // Let the callback's own async work start before the next timer fires.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  return {
    now: () => now,
    at(atMs, fn) {
      const id = ++seq;
      timers.set(id, { atMs, fn });
      if (atMs <= now) queueMicrotask(() => void fireDue());
      return { cancel: () => void timers.delete(id) };
    },
    async advance(ms) {
      now += ms;
      await fireDue();
    },
    async set(ms) {
      now = Math.max(now, ms);
      await fireDue();
    },
  };
}
