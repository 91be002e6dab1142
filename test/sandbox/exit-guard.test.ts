// A process that used isolates and ends on its own (its event loop ran dry) leaves through
// process.exit (runtime/sandbox/exit-guard.ts): its exit code, its own exit listeners and its
// output are what they would be without the guard. Real child processes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const prepared = fileURLToPath(new URL('../../runtime/sandbox/prepared-isolate.ts', import.meta.url));

function runChild(body: string) {
  const source = `import { prepareIsolate } from ${JSON.stringify(prepared)};\n${body}`;
  return spawnSync(process.execPath, ['--no-node-snapshot', '--input-type=module', '-e', source], { encoding: 'utf8', timeout: 60_000 });
}

test('a natural exit after isolates ran leaves through process.exit, with its exit code, its exit listeners and its output', () => {
  const r = runChild(`
    process.on('exit', (code) => console.log('listener saw', code));
    const reallyExit = process.reallyExit;
    process.reallyExit = (code) => { console.log('left through process.exit with', code); reallyExit.call(process, code); };
    const p = await prepareIsolate(16, { maxResultBytes: 1024, maxLogBytes: 1024 });
    console.log('x'.repeat(200_000).length);
    p.dispose();
    process.exitCode = 3;
    setTimeout(() => console.log('timer ran'), 20);
  `);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.signal, null);
  assert.deepEqual(r.stdout.trim().split('\n'), ['200000', 'timer ran', 'listener saw 3', 'left through process.exit with 3']);
});

test('process.exit still ends at once with its own code, and a throw still exits 1', () => {
  const exited = runChild(`await prepareIsolate(16, { maxResultBytes: 1024, maxLogBytes: 1024 }); setTimeout(() => console.log('never'), 5000); process.exit(7);`);
  assert.equal(exited.status, 7, exited.stderr);
  assert.equal(exited.stdout, '');
  const thrown = runChild(`const p = await prepareIsolate(16, { maxResultBytes: 1024, maxLogBytes: 1024 }); p.dispose(); setTimeout(() => { throw new Error('boom'); }, 10);`);
  assert.equal(thrown.status, 1);
  assert.match(thrown.stderr, /boom/);
});
