// The load generator's child process: runs the autocannon jobs it is sent over IPC, one at
// a time, and answers each with its summary. Exits when the parent disconnects.
import { runAutocannon, type LoadJob } from './loadgen.ts';

let queue: Promise<void> = Promise.resolve();

process.on('message', (raw) => {
  const { id, job } = raw as { id: number; job: LoadJob };
  queue = queue.then(async () => {
    try {
      process.send!({ id, ok: true, result: await runAutocannon(job) });
    } catch (err) {
      process.send!({ id, ok: false, message: (err as Error)?.message ?? String(err) });
    }
  });
});
process.on('disconnect', () => process.exit(0));
