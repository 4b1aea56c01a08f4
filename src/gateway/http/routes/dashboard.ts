/**
 * `GET /dashboard`: the live status page (source in `web/dashboard/`, bundled at build
 * time by `scripts/build-web.mjs` into `dist/web/`). The page talks only to this gateway:
 * its Content-Security-Policy allows nothing but same-origin scripts, styles and
 * connections (`/graphql` over graphql-ws).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Route } from './route.js';

/** The bundles: `dist/web/`, beside the compiled `dist/src/`. */
export const WEB_DIR = fileURLToPath(new URL('../../../../web/', import.meta.url));

const ASSETS: Record<string, { file: string; type: string }> = {
  '/dashboard': { file: 'dashboard.html', type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.js.map': { file: 'dashboard.js.map', type: 'application/json; charset=utf-8' },
  '/dashboard/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  '/dashboard/dashboard.css.map': { file: 'dashboard.css.map', type: 'application/json; charset=utf-8' },
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function dashboardRoutes(dir: string = WEB_DIR): Route[] {
  return [
    {
      match: (_req, url) => url.pathname === '/dashboard' || url.pathname.startsWith('/dashboard/'),
      handle: async (req, res, url) => {
        if (url.pathname === '/dashboard/') {
          res.writeHead(308, { location: '/dashboard' }).end();
          return;
        }
        const asset = ASSETS[url.pathname];
        if (!asset) {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found; the dashboard is at /dashboard.\n');
          return;
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Use GET.\n');
          return;
        }
        let body: Buffer;
        try {
          body = await readFile(join(dir, asset.file));
        } catch {
          res
            .writeHead(503, { 'content-type': 'text/plain; charset=utf-8' })
            .end('The dashboard is not built: run `npm run build` (it bundles web/dashboard into dist/web).\n');
          return;
        }
        res.writeHead(200, {
          'content-type': asset.type,
          'content-length': body.length,
          // File names carry no hash: revalidate so a rebuilt gateway serves the new page.
          'cache-control': 'no-cache',
          ...SECURITY_HEADERS,
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
    },
  ];
}
