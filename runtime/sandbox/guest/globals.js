// Guest globals that a bare V8 context lacks and plugin code expects: console (captured
// into the run's log), timers (carried out by the host, bounded per invocation), base64 and
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
  consoleObject[level] = function (...args) {
    let text = '';
    for (let i = 0; i < args.length; i++) text += (i ? ' ' : '') + describe(args[i]);
    try {
      send({ t: 'log', id: current, level: level === 'trace' ? 'debug' : level, text: text.slice(0, limits.maxLogBytes) });
    } catch {
      // A log line that cannot be sent must not break the plugin; the size limit already cut it.
    }
  };
}
globalThis.console = ObjectFreeze(consoleObject);

let nextTimerId = 0;
const timers = new MapCtor();

function startTimer(fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError('the callback must be a function');
  const id = ++nextTimerId;
  const delay = Math.max(0, Number(ms) || 0);
  const timer = { invocation: current, cancelled: false };
  timers.set(id, timer);
  const arm = () => {
    hostCall('sleep', { ms: delay }).then(() => {
      if (timer.cancelled) return;
      if (!repeat) timers.delete(id);
      fn(...args);
      if (repeat && !timer.cancelled) arm();
    }, (err) => {
      timers.delete(id);
      // A timer the host refused (its pendingOps budget) fails the run like an uncaught error.
      if (err && err.code === 'PLUGIN_LIMIT') throw toError(err);
    });
  };
  arm();
  return id;
}
function stopTimer(id) {
  const timer = timers.get(id);
  if (timer) { timer.cancelled = true; timers.delete(id); }
}
globalThis.setTimeout = (fn, ms, ...args) => startTimer(fn, ms, args, false);
globalThis.setInterval = (fn, ms, ...args) => startTimer(fn, Math.max(Number(ms) || 0, 10), args, true);
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
