// The plugin registry: publish a package (zip or tar.gz body), list plugins and versions.
import { PlughostError } from '../../errors.ts';
import { parsePage } from '../../store/page.ts';
import type { ApiDeps, ApiRouter } from '../api-context.ts';
import { mediaType, readRaw } from '../body.ts';

const KINDS: Record<string, 'zip' | 'gzip'> = {
  'application/zip': 'zip', 'application/x-zip-compressed': 'zip',
  'application/gzip': 'gzip', 'application/x-gzip': 'gzip', 'application/x-tar+gzip': 'gzip',
};

export function pluginRoutes(router: ApiRouter, deps: ApiDeps) {
  const { auth, registry, options } = deps;
  router.post('/plugins', async (ctx) => {
    auth.checkOperator(ctx.state.principal);
    const type = mediaType(ctx);
    const kind = type === undefined ? undefined : KINDS[type];
    if (!kind) throw new PlughostError('UNSUPPORTED_MEDIA_TYPE', 'send the package as application/zip or application/gzip (a .tar.gz)');
    let bytes: Buffer;
    try {
      bytes = await readRaw(ctx, options.http.maxUploadBytes);
    } catch (err) {
      if (err instanceof PlughostError && err.code === 'BODY_TOO_LARGE') {
        throw new PlughostError('PACKAGE_TOO_LARGE', `the package is over ${options.http.maxUploadBytes} bytes; plugins may be at most 5 MiB`, { cause: err });
      }
      throw err;
    }
    // An FDK app's manifest.json names no plugin: ?name=, ?version= and ?namespace= do.
    const identity = Object.fromEntries((['name', 'version', 'namespace'] as const)
      .map((k) => [k, ctx.query[k]]).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
    ctx.status = 201;
    ctx.body = await registry.publish(bytes, kind, identity);
  });
  router.get('/plugins', async (ctx) => {
    ctx.body = await registry.list(parsePage(ctx.query));
  });
  router.get('/plugins/:name', async (ctx) => {
    const versions = await registry.versions(ctx.params.name!);
    if (versions.length === 0) throw new PlughostError('PLUGIN_NOT_FOUND', `no plugin named \`${ctx.params.name}\` is published`);
    ctx.body = { name: ctx.params.name, latestVersion: versions[0]!.version, versions };
  });
}
