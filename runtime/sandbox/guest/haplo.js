// Guest Haplo globals: `P` (the plugin object) with `P.hook(name, fn)` for schedule hooks
// such as `hScheduleDailyEarly`. Hooks register when the main module loads; the host learns
// their names from the init result and fires them on the workspace's clock.

const hookTable = new MapCtor();

const P = {
  hook(name, fn) {
    if (typeof name !== 'string' || typeof fn !== 'function') throw new TypeError('P.hook(name, function) takes a hook name and a function');
    if (!hookTable.has(name)) hookTable.set(name, []);
    hookTable.get(name).push(fn);
  },
};
globalThis.P = P;

function hookNames() {
  return [...hookTable.keys()];
}

/** Calls every function registered for `name`, in order; Haplo's hook arguments follow `response`. */
function runHook(name, response, args) {
  const fns = hookTable.get(name) || [];
  let chain = PromiseCtor.resolve();
  for (const fn of fns) chain = chain.then(() => fn.call(P, response, ...args));
  return chain.then(() => response);
}
