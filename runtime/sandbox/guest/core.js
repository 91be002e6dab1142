// Guest core: runs inside the isolate, before any plugin code, in strict mode (the host
// wraps every guest file in one strict function). It takes the host's channel
// (`__plughost_post`, a plain copied callback, and `__plughost_service` for synchronous
// service calls), deletes them from the global object, and
// captures the intrinsics it relies on, so plugin code that tampers with globals cannot
// change how the host glue behaves.
//
// The channel: `post(type, invocation, a, b, c)` with strings and numbers only, so the host
// can count a message and check its size before it parses anything. Each invocation's
// budgets (pending host operations, messages, log bytes) are kept here too, so that a plugin
// flooding the channel is stopped in its own isolate, at no cost to the host.

const post = globalThis.__plughost_post;
const limits = JSON.parse(globalThis.__plughost_limits);
const serviceRef = globalThis.__plughost_service;
delete globalThis.__plughost_post;
delete globalThis.__plughost_limits;
delete globalThis.__plughost_service;
// Shared memory and timing primitives are no use to a plugin and help side channels.
delete globalThis.SharedArrayBuffer;
delete globalThis.Atomics;
delete globalThis.WebAssembly;

const jsonParse = JSON.parse;
const jsonStringify = JSON.stringify;
const ObjectFreeze = Object.freeze;
const ObjectCreate = Object.create;
const ObjectKeys = Object.keys;
const ObjectDefineProperty = Object.defineProperty;
const ArrayIsArray = Array.isArray;
const MathMax = Math.max;
const MapCtor = Map;
const PromiseCtor = Promise;
const ErrorCtor = Error;
const StringCtor = String;
const indirectEval = eval;
// The methods the glue's budgets rely on, taken now: plugin code runs in this context and may
// replace what Map.prototype, Array.prototype or Promise hold by the time the glue calls them.
const uncurry = Function.prototype.bind.bind(Function.prototype.call);
const MapGet = uncurry(Map.prototype.get);
const MapSet = uncurry(Map.prototype.set);
const MapHas = uncurry(Map.prototype.has);
const MapDelete = uncurry(Map.prototype.delete);
const MapForEach = uncurry(Map.prototype.forEach);
const ArrayPush = uncurry(Array.prototype.push);
const ArrayPop = uncurry(Array.prototype.pop);
const ReflectApply = Reflect.apply;
const ReflectGet = Reflect.get;
const PromiseReject = Promise.reject.bind(Promise);
/** Caps what an error report may carry, so that a huge message cannot block its own report. */
const REPORT_CHARS = 16 * 1024;

/** The invocation whose code is running now: set on every entry from the host. */
let current = 0;
let nextOpId = 0;
const pendingOps = new MapCtor();

/** Per-run budgets, set by the host when the package loads (init). */
const budgets = { pendingOps: Infinity, pendingOpBytes: Infinity, guestMessages: Infinity };
/**
 * Each open invocation's spending, made when the host dispatches it and dropped when the host
 * says it has ended. Code still running for an ended run finds CLOSED: it can start nothing.
 */
const runs = new MapCtor();
const CLOSED = ObjectFreeze({ closed: true });
function openRun(id) {
  MapSet(runs, id, { messages: 0, logBytes: 0, ops: 0, opBytes: 0, timers: 0, droppedLines: 0, droppedBytes: 0, noted: ObjectCreate(null), rendered: false });
}
function runOf(id) {
  const r = MapGet(runs, id);
  return r === undefined ? CLOSED : r;
}
/** Tells the host once per run and budget that the budget refused something; the host logs it. */
function noteOnce(id, r, what) {
  if (r.noted[what]) return;
  r.noted[what] = true;
  post('note', id, what);
}
/** The rejection a refused host operation gets: the shape the host's own refusals have. */
function limitPayload(limit, message) {
  return { code: 'PLUGIN_LIMIT', message, status: 429, limit };
}
/** Why `r` may not start another host operation or timer now, or undefined when it may. */
function refusal(id, r) {
  if (r === CLOSED) return { code: 'CANCELLED', status: 499, message: 'the run that started this has ended' };
  if (r.ops + r.timers >= budgets.pendingOps) {
    noteOnce(id, r, 'pendingOps');
    return limitPayload('pendingOps', budgets.pendingOps + ' host operations (timers, fetches, $db, $schedule) are already pending in this run; await some before starting more');
  }
  if (r.messages >= budgets.guestMessages) {
    noteOnce(id, r, 'guestMessages');
    return limitPayload('guestMessages', 'this run has sent the host ' + budgets.guestMessages + ' messages, its limit (guestMessages); nothing more can be started in it');
  }
  return undefined;
}

/** A structured message (a response, a settled handler): JSON, within the result size limit. */
function send(message) {
  const text = jsonStringify(message);
  // Checked here, before the copy out of the isolate: the host never receives more.
  if (text.length > limits.maxResultBytes) {
    throw new ErrorCtor('result too large: ' + text.length + ' bytes, the limit is ' + limits.maxResultBytes);
  }
  post('msg', message.id, text);
}

/** A synchronous request to the host (Haplo services): blocks this isolate until it answers. */
function hostSync(request) {
  const text = jsonStringify({ ...request, id: current });
  if (text.length > limits.maxResultBytes) throw new ErrorCtor('service arguments too large: ' + text.length + ' bytes');
  const answer = jsonParse(serviceRef.applySyncPromise(undefined, [text], { arguments: { copy: true } }));
  if (!answer.ok) {
    const err = new ErrorCtor(answer.error && answer.error.message ? answer.error.message : 'service call failed');
    if (answer.error && answer.error.code) err.code = answer.error.code;
    if (answer.error && answer.error.limit) err.limit = answer.error.limit;
    throw err;
  }
  return answer.value;
}

/** Asks the host to carry out `op`; the promise settles when the host delivers the outcome. */
function hostCall(op, args) {
  const invocation = current;
  return new PromiseCtor((resolve, reject) => {
    const r = runOf(invocation);
    const refused = refusal(invocation, r);
    if (refused !== undefined) return reject(refused);
    const text = jsonStringify(args === undefined ? {} : args);
    if (text.length > limits.maxResultBytes) {
      return reject({ code: 'PLUGIN_RESULT_TOO_LARGE', status: 413, message: 'the arguments of ' + op + ' are ' + text.length + ' bytes of JSON; the limit is ' + limits.maxResultBytes });
    }
    if (r.opBytes + text.length > budgets.pendingOpBytes) {
      noteOnce(invocation, r, 'pendingOpBytes');
      return reject(limitPayload('pendingOpBytes', 'the arguments of the host operations pending in this run would be ' + (r.opBytes + text.length) + ' bytes of JSON, over its limit of ' + budgets.pendingOpBytes + ' (pendingOpBytes); await some before starting more'));
    }
    const opId = ++nextOpId;
    MapSet(pendingOps, opId, { resolve, reject, invocation, bytes: text.length });
    r.ops++;
    r.opBytes += text.length;
    r.messages++;
    post('op', invocation, opId, op, text);
  });
}

/** Host → guest: the outcome of an op (a body beside it, as `bodyKey`). Errors arrive as `{code, message, status?, data?}`. */
function deliver(opId, ok, payloadJson, bodyKey, body) {
  const pending = MapGet(pendingOps, opId);
  if (!pending) return;
  MapDelete(pendingOps, opId);
  current = pending.invocation;
  const r = runOf(pending.invocation);
  if (r !== CLOSED) {
    r.ops--;
    r.opBytes -= pending.bytes;
  }
  const payload = payloadJson === undefined ? undefined : jsonParse(payloadJson);
  if (bodyKey !== undefined) payload[bodyKey] = body; // a body comes beside the JSON, as it is
  if (ok) pending.resolve(payload);
  else pending.reject(payload);
}

/** Host → guest: these runs are over; what they left open (timers, operations) goes with them. */
function ended(ids) {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const r = runOf(id);
    if (r === CLOSED) continue;
    MapDelete(runs, id);
    if (r.timers > 0) dropTimersOf(id);
    if (r.ops > 0) MapForEach(pendingOps, (pending, opId) => { if (pending.invocation === id) MapDelete(pendingOps, opId); });
  }
}

/** Turns a host error payload into an Error the plugin can catch and read. */
function toError(payload) {
  const err = new ErrorCtor(payload && payload.message ? payload.message : 'host operation failed');
  if (payload && payload.code) err.code = payload.code;
  if (payload && payload.status) err.status = payload.status;
  if (payload && payload.limit) err.limit = payload.limit;
  return err;
}

function describe(value) {
  if (typeof value === 'string') return value;
  if (value instanceof ErrorCtor) return value.stack || (value.name + ': ' + value.message);
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return '[Function ' + (value.name || 'anonymous') + ']';
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  try {
    const text = jsonStringify(value);
    return text === undefined ? StringCtor(value) : text;
  } catch {
    return StringCtor(value);
  }
}

function errorInfo(err) {
  // `noRetry: true` on what a handler throws asks the scheduler not to retry this occurrence.
  const noRetry = err !== null && typeof err === 'object' && err.noRetry === true;
  const cut = (text) => (typeof text === 'string' && text.length > REPORT_CHARS ? text.slice(0, REPORT_CHARS) + '…' : text);
  if (err instanceof ErrorCtor) return { message: cut(err.message), stack: cut(err.stack), name: cut(err.name), code: cut(err.code), noRetry };
  // Freshworks' error shape, `{status, message}`: the status is what a server method answers with.
  if (err !== null && typeof err === 'object' && typeof err.status === 'number' && err.status >= 400 && err.status <= 599) {
    return { message: cut(typeof err.message === 'string' ? err.message : describe(err)), status: err.status, noRetry };
  }
  if (err !== null && typeof err === 'object' && typeof err.message === 'string') return { message: cut(err.message), noRetry };
  return { message: cut(describe(err)), noRetry };
}
