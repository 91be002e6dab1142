// The abort fan-out: however many operations wait on one signal, the signal carries exactly
// one 'abort' listener, so registering costs O(1) and not the length of Node's listener list.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { abortWaiters, onAbort } from '../../runtime/abort-fanout.ts';

const N = 50_000;
const listenerCount = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

test(`${N} registrations on one signal leave it one listener; every callback runs once on abort`, () => {
  const controller = new AbortController();
  const { signal } = controller;
  const calls = new Array<number>(N).fill(0);
  for (let i = 0; i < N; i++) onAbort(signal, () => { calls[i]!++; });
  assert.equal(listenerCount(signal), 1);
  assert.equal(abortWaiters(signal), N);
  controller.abort();
  assert.ok(calls.every((c) => c === 1), 'each callback ran exactly once');
  assert.equal(listenerCount(signal), 0);
  assert.equal(abortWaiters(signal), 0);
});

test('unregistering removes the entry; the last one removes the listener; nothing runs after', () => {
  const controller = new AbortController();
  const { signal } = controller;
  let ran = 0;
  const offs = Array.from({ length: N }, () => onAbort(signal, () => { ran++; }));
  for (const off of offs.slice(0, N - 1)) off();
  assert.equal(listenerCount(signal), 1);
  assert.equal(abortWaiters(signal), 1);
  offs[N - 1]!();
  assert.equal(listenerCount(signal), 0);
  assert.equal(abortWaiters(signal), 0);
  offs[0]!(); // a second call does nothing
  controller.abort();
  assert.equal(ran, 0);
  // Registering again after everything was removed adds the one listener back.
  const again = new AbortController();
  const off = onAbort(again.signal, () => { ran++; });
  off();
  onAbort(again.signal, () => { ran++; });
  assert.equal(listenerCount(again.signal), 1);
  again.abort();
  assert.equal(ran, 1);
});

test('the same function registered twice runs twice, and each disposer removes its own entry', () => {
  const controller = new AbortController();
  let ran = 0;
  const cb = (): void => { ran++; };
  const first = onAbort(controller.signal, cb);
  onAbort(controller.signal, cb);
  first();
  first();
  assert.equal(abortWaiters(controller.signal), 1);
  controller.abort();
  assert.equal(ran, 1);
});

test('an already aborted signal runs the callback at once and adds no listener', () => {
  const signal = AbortSignal.abort(new Error('gone'));
  let ran = 0;
  const off = onAbort(signal, () => { ran++; });
  assert.equal(ran, 1);
  assert.equal(listenerCount(signal), 0);
  off();
  assert.equal(ran, 1);
});

test('a callback may unregister another (which then does not run) or register one (which runs at once) during the abort', () => {
  const controller = new AbortController();
  const order: string[] = [];
  let offB: () => void = () => {};
  onAbort(controller.signal, () => {
    order.push('a');
    offB(); // B's operation ended: B does not run
    onAbort(controller.signal, () => order.push('late')); // the signal has aborted: runs at once
  });
  offB = onAbort(controller.signal, () => order.push('b'));
  onAbort(controller.signal, () => order.push('c'));
  controller.abort();
  assert.deepEqual(order, ['a', 'late', 'c']);
  assert.equal(listenerCount(controller.signal), 0);
});

test('signals are independent', () => {
  const a = new AbortController();
  const b = new AbortController();
  let ranA = 0;
  let ranB = 0;
  for (let i = 0; i < 100; i++) {
    onAbort(a.signal, () => { ranA++; });
    onAbort(b.signal, () => { ranB++; });
  }
  a.abort();
  assert.equal(ranA, 100);
  assert.equal(ranB, 0);
  assert.equal(listenerCount(b.signal), 1);
  b.abort();
  assert.equal(ranB, 100);
});
