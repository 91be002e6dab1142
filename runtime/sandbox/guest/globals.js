// Guest globals that a bare V8 context lacks and plugin code expects: console (captured
// into the run's log, bounded per run), timers (kept here, one host wake-up per isolate), base64 and
// UTF-8 text coding, and a `Date` that reads the host's clock (virtual under tests and
// `plughost dev`), so "in 10 minutes" means 10 minutes of the clock schedules follow.

const RealDate = Date;
const realNow = Date.now;
/** Host clock minus real time, sent with every dispatch. */
let clockOffset = 0;
function PlughostDate(...args) {
  const now = realNow() + clockOffset;
  if (!new.target) return new RealDate(now).toString();
  return args.length === 0 ? new RealDate(now) : new RealDate(...args);
}
PlughostDate.prototype = RealDate.prototype;
PlughostDate.now = () => realNow() + clockOffset;
PlughostDate.parse = RealDate.parse;
PlughostDate.UTC = RealDate.UTC;
ObjectDefineProperty(RealDate.prototype, 'constructor', { value: PlughostDate, writable: true, configurable: true });
globalThis.Date = PlughostDate;

const consoleObject = ObjectCreate(null);
for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
  const sent = level === 'trace' ? 'debug' : level;
  consoleObject[level] = function (...args) {
    let text = '';
    for (let i = 0; i < args.length; i++) text += (i ? ' ' : '') + describe(args[i]);
    if (text.length > limits.maxLogBytes) text = text.slice(0, limits.maxLogBytes);
    const id = current;
    const r = runOf(id);
    if (r === CLOSED) return; // the run is over: there is no log to write to
    // Past the run's log size or message budget the line stays here, counted: the host is
    // told once, and reads the count when the run ends.
    if (r.droppedLines > 0 || r.logBytes + text.length > limits.maxLogBytes || r.messages >= budgets.guestMessages) {
      if (r.droppedLines++ === 0) post('dropped', id);
      r.droppedBytes += text.length;
      return;
    }
    r.logBytes += text.length;
    r.messages++;
    post('log', id, sent, text);
  };
}
globalThis.console = ObjectFreeze(consoleObject);

/** Lines each run dropped, for the host when it ends a run that was told of drops. */
function droppedOf(id) {
  const r = runOf(id);
  return r === CLOSED ? '0,0' : r.droppedLines + ',' + r.droppedBytes;
}

// Timers live here, in a heap ordered by due time. The host holds one wake-up for the whole
// isolate, for the earliest timer, and calls `tick(run)` when it is due; a timer costs the
// host nothing unless it becomes the earliest. A tick runs the due timers of one run, so
// that what they throw is that run's; due timers of other runs get their own tick at once.
let nextTimerId = 0;
const timers = new MapCtor();
const heap = [];
/** Due time of the wake-up the host holds (Infinity: none). */
let armedDue = Infinity;

const before = (a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq);
let nextSeq = 0;
function heapPush(t) {
  t.seq = ++nextSeq;
  ArrayPush(heap, t);
  for (let i = heap.length - 1; i > 0;) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) break;
    const swap = heap[i]; heap[i] = heap[parent]; heap[parent] = swap;
    i = parent;
  }
}
function heapPop() {
  const top = heap[0];
  const last = ArrayPop(heap);
  if (heap.length > 0) {
    heap[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l], heap[m])) m = l;
      if (r < heap.length && before(heap[r], heap[m])) m = r;
      if (m === i) break;
      const swap = heap[i]; heap[i] = heap[m]; heap[m] = swap;
      i = m;
    }
  }
  return top;
}
/** Asks the host for a wake-up at the earliest live timer, if that is sooner than the one it holds. */
function arm() {
  while (heap.length > 0 && heap[0].cancelled) heapPop();
  if (heap.length === 0 || heap[0].due >= armedDue) return;
  armedDue = heap[0].due;
  const r = runOf(heap[0].invocation);
  if (r !== CLOSED) r.messages++;
  post('wake', heap[0].invocation, MathMax(0, armedDue - realNow()));
}
function forget(t) {
  t.cancelled = true;
  MapDelete(timers, t.id);
  const r = runOf(t.invocation);
  if (r !== CLOSED && --r.timers === 0) {
    r.messages++;
    post('timers', t.invocation, 0);
  }
}
function dropTimersOf(id) {
  MapForEach(timers, (t) => { if (t.invocation === id) { t.cancelled = true; MapDelete(timers, t.id); } });
}

function startTimer(fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError('the callback must be a function');
  const id = ++nextTimerId;
  const invocation = current;
  const r = runOf(invocation);
  if (r === CLOSED) return id; // the run is over: the timer would never fire
  const refused = refusal(invocation, r);
  if (refused !== undefined) {
    // Refused like a host operation: it fails the run as an uncaught error would.
    PromiseReject(toError(refused));
    return id;
  }
  const delay = MathMax(0, Number(ms) || 0);
  const t = { id, invocation, fn, args, repeat, delay, due: realNow() + delay, cancelled: false, seq: 0 };
  MapSet(timers, id, t);
  heapPush(t);
  if (++r.timers === 1) {
    r.messages++;
    post('timers', invocation, 1);
  }
  arm();
  return id;
}
function stopTimer(id) {
  const t = MapGet(timers, id);
  if (t !== undefined) forget(t);
}

/** Host → guest: the wake-up is due; runs the due timers of `invocation` (none if it has ended). */
function tick(invocation, endedIds) {
  armedDue = Infinity;
  if (endedIds) ended(jsonParse(endedIds));
  const now = realNow();
  const due = [];
  const others = [];
  // Timers of a run that is over never fire: they go now.
  const open = runOf(invocation) !== CLOSED;
  while (heap.length > 0 && heap[0].due <= now) {
    const t = heapPop();
    if (t.cancelled) continue;
    if (t.invocation !== invocation) ArrayPush(others, t);
    else if (open) ArrayPush(due, t);
    else { t.cancelled = true; MapDelete(timers, t.id); }
  }
  for (let i = 0; i < others.length; i++) heapPush(others[i]);
  for (let i = 0; i < due.length; i++) {
    const t = due[i];
    if (t.cancelled) continue; // cleared by a callback before it in this tick
    current = t.invocation;
    try {
      ReflectApply(t.fn, undefined, t.args);
    } catch (err) {
      PromiseReject(err); // uncaught in a timer: the host notes it against the run
    }
    if (t.cancelled) continue;
    if (t.repeat) {
      t.due = realNow() + t.delay;
      heapPush(t);
    } else forget(t);
  }
  arm();
}

globalThis.setTimeout = (fn, ms, ...args) => startTimer(fn, ms, args, false);
globalThis.setInterval = (fn, ms, ...args) => startTimer(fn, MathMax(Number(ms) || 0, 10), args, true);
globalThis.setImmediate = (fn, ...args) => startTimer(fn, 0, args, false);
globalThis.clearTimeout = stopTimer;
globalThis.clearInterval = stopTimer;
globalThis.clearImmediate = stopTimer;
globalThis.queueMicrotask = (fn) => { PromiseCtor.resolve().then(fn); };

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function bytesToBase64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? B64[n & 63] : '=');
  }
  return out;
}
function base64ToBytes(text) {
  const clean = StringCtor(text).replace(/[\s=]/g, '');
  const bytes = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let j = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const n = (B64.indexOf(clean[i]) << 18) | (B64.indexOf(clean[i + 1]) << 12) | ((B64.indexOf(clean[i + 2] ?? 'A') & 63) << 6) | (B64.indexOf(clean[i + 3] ?? 'A') & 63);
    if (j < bytes.length) bytes[j++] = (n >> 16) & 255;
    if (j < bytes.length) bytes[j++] = (n >> 8) & 255;
    if (j < bytes.length) bytes[j++] = n & 255;
  }
  return bytes;
}
function utf8Encode(text) {
  const s = StringCtor(text);
  const out = [];
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}
function utf8Decode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    let c, n;
    if (b < 0x80) { c = b; n = 1; } else if (b >= 0xf0) { c = b & 7; n = 4; } else if (b >= 0xe0) { c = b & 15; n = 3; } else if (b >= 0xc0) { c = b & 31; n = 2; } else { c = 0xfffd; n = 1; }
    for (let k = 1; k < n; k++) c = (c << 6) | ((bytes[i + k] ?? 0) & 63);
    out += String.fromCodePoint(c > 0x10ffff ? 0xfffd : c);
    i += n;
  }
  return out;
}
globalThis.btoa = (text) => {
  const s = StringCtor(text);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 255) throw new ErrorCtor('btoa: the string has characters outside Latin-1');
    bytes[i] = s.charCodeAt(i);
  }
  return bytesToBase64(bytes);
};
globalThis.atob = (text) => {
  let out = '';
  for (const b of base64ToBytes(text)) out += String.fromCharCode(b);
  return out;
};
globalThis.TextEncoder = class TextEncoder {
  get encoding() { return 'utf-8'; }
  encode(text = '') { return utf8Encode(text); }
};
globalThis.TextDecoder = class TextDecoder {
  get encoding() { return 'utf-8'; }
  decode(bytes) {
    if (bytes === undefined) return '';
    return utf8Decode(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
};
