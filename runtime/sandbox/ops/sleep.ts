// The `sleep` op behind the guest's setTimeout family: real time, cut short when the run ends.
import type { Ops } from '../types.ts';

export const sleepOps: Ops = {
  sleep({ args, signal, deadline }) {
    const ms = Math.max(Number(args.ms) || 0, 0);
    return new Promise((resolve, reject) => {
      // A timer due after the run's limit never fires: the run is over by then.
      const timer = ms <= deadline - Date.now() ? setTimeout(resolve, ms) : undefined;
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(Object.assign(new Error('the run ended'), { status: 499 }));
      }, { once: true });
    });
  },
};
