// The `plughost` host module: the host's own API for plugin code, one object, typed by the
// SDK (`sdk/index.ts`). Platform globals ($db, fetch) are the same objects seen here.

let installationContext = ObjectFreeze({ workspaceId: null, installationId: null, namespace: null });
let installationIparams = ObjectFreeze({});

defineHostModule('plughost', () => ObjectFreeze({
  get context() { return installationContext; },
  /** The installation's parameters, secure ones included (they are the plugin's own secrets). */
  get iparams() { return installationIparams; },
  fetch: globalThis.fetch,
  db: globalThis.$db,
  Headers: globalThis.Headers,
  Response: globalThis.Response,
}));

function setInstallationContext(context) {
  installationContext = ObjectFreeze({ workspaceId: context.workspaceId, installationId: context.installationId, namespace: context.namespace });
  installationIparams = ObjectFreeze({ ...(context.iparams || {}) });
}
