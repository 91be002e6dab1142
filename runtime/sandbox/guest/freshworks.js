// Guest Freshworks globals: `$db`, the per-installation key-value store. Failures reject
// with a plain `{status, message}` object, as Freshworks apps expect.

function freshworksCall(op, args) {
  return hostCall(op, args).then(undefined, (err) => {
    throw { status: (err && err.status) || 500, message: (err && err.message) || 'internal error' };
  });
}

globalThis.$db = ObjectFreeze({
  set: (key, value, options) => freshworksCall('db.set', { key, value, options: options || {} }),
  get: (key) => freshworksCall('db.get', { key }),
  update: (key, action, attributes) => freshworksCall('db.update', { key, action, attributes }),
  delete: (key) => freshworksCall('db.delete', { key }),
});
