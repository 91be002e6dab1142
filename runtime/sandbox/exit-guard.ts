// isolated-vm lets go of Node's own isolate in an environment cleanup hook. When a process
// ends because its event loop ran dry, Node runs those hooks and then drains V8's pending
// tasks; a garbage collection among them finalizes isolated-vm handles, finds no isolated-vm
// environment and aborts the process (`IsolateEnvironment::GetCurrent(): Assertion
// 'environment != nullptr' failed`, exit 134) after all of its work is done. process.exit()
// leaves by a path without that teardown, so a natural exit is finished through it, once
// every exit listener registered before the loop ran dry has run.
let guarded = false;

export function guardExit(): void {
  if (guarded) return;
  guarded = true;
  process.once('beforeExit', () => {
    process.once('exit', (code) => process.exit(process.exitCode ?? code));
  });
}
