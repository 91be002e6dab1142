// Guest Freshworks globals: `$db`, the per-installation key-value store, `$schedule`, the
// installation's one-time and recurring schedules, and `renderData`, which ends a server
// method or an app event with its answer. Failures reject with a plain `{status, message}`
// object, as Freshworks apps expect.

function freshworksCall(op, args) {
  return hostCall(op, args).then(undefined, (err) => {
    const failure = { status: (err && err.status) || 500, message: (err && err.message) || 'internal error' };
    // A host budget says which one (status 429, as Freshworks' own rate limit answers).
    if (err && err.code === 'PLUGIN_LIMIT') { failure.code = err.code; failure.limit = err.limit; }
    throw failure;
  });
}

globalThis.$db = ObjectFreeze({
  set: (key, value, options) => freshworksCall('db.set', { key, value, options: options || {} }),
  get: (key) => freshworksCall('db.get', { key }),
  update: (key, action, attributes) => freshworksCall('db.update', { key, action, attributes }),
  delete: (key) => freshworksCall('db.delete', { key }),
});

const scheduleArgs = (args) => (args !== null && typeof args === 'object' ? args : {});
globalThis.$schedule = ObjectFreeze({
  create: (args) => freshworksCall('schedule.create', scheduleArgs(args)),
  fetch: (args) => freshworksCall('schedule.fetch', scheduleArgs(args)),
  update: (args) => freshworksCall('schedule.update', scheduleArgs(args)),
  delete: (args) => freshworksCall('schedule.delete', scheduleArgs(args)),
});

// FDK's renderData(error, data): the answer of the run it is called in. The first call counts;
// what the handler's own promise does afterwards no longer changes the outcome.
globalThis.renderData = function renderData(error, data) {
  const id = current;
  const r = runOf(id);
  if (r === CLOSED) return;
  if (r.rendered) {
    globalThis.console.warn('renderData was already called in this run; this call is ignored');
    return;
  }
  r.rendered = true;
  if (error !== undefined && error !== null) settle(id, false, error);
  else settle(id, true, data);
};

/** Whether `renderData` has answered run `id`. */
function renderedIn(id) {
  return runOf(id).rendered === true;
}

/**
 * The handler for `event` in an FDK module: the exported function `name`, or in the older
 * form an `exports.events` entry `{event, callback}` whose callback is a function or the name of one.
 */
function fdkHandler(mod, event, name) {
  if (name && typeof mod[name] === 'function') return mod[name];
  const list = ArrayIsArray(mod.events) ? mod.events : [];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    if (!entry || entry.event !== event) continue;
    if (typeof entry.callback === 'function') return entry.callback;
    if (typeof entry.callback === 'string' && typeof mod[entry.callback] === 'function') return mod[entry.callback];
  }
  return undefined;
}

// FDK's generateTargetUrl(): where a third party posts this installation's external events.
globalThis.generateTargetUrl = () => freshworksCall('fdk.targetUrl', {});
