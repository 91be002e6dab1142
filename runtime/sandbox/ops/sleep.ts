// The `sleep` op behind the guest's setTimeout family: real time, cut short when the run ends.
import type { Ops } from '../types.ts';

export const sleepOps: Ops = {
  sleep({ args, signal, deadline }) {
    const ms = Math.min(Math.max(Number(args.ms) || 0, 0), Math.max(deadline - Date.now(), 0));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(Object.assign(new Error('the run ended'), { status: 499 }));
      }, { once: true });
    });
  },
};
