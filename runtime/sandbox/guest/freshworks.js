// Guest Freshworks globals: `$db`, the per-installation key-value store, and `$schedule`,
// the installation's one-time and recurring schedules. Failures reject with a plain
// `{status, message}` object, as Freshworks apps expect.

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
