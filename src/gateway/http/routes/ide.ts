/**
 * The GraphQL IDE and the introspection policy.
 *
 * - `GET /graphql` from a browser (Accept: text/html, no `query` parameter) answers
 *   GraphiQL, with every script and style served by the gateway itself from
 *   node_modules and `web/graphiql/` under `/graphql/assets/` (no CDN).
 * - Introspection (`__schema`, `__type`) needs a token; `FLINT_INTROSPECTION=false`
 *   turns it off for everyone (Apollo's `introspection: false`, and the same rule on
 *   graphql-ws).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { BREAK, GraphQLError, specifiedRules, validate, visit, type DocumentNode, type ValidationRule } from 'graphql';
import { UnauthenticatedError } from '../../../domain/errors.js';
import type { Context } from '../../../resolvers/index.js';
import type { Route } from './route.js';

/** Where the IDE's assets are served; relative to the page, which is the endpoint. */
export const ASSET_PREFIX = '/graphql/assets/';

const require = createRequire(import.meta.url);
const pkgDir = (name: string): string => dirname(require.resolve(`${name}/package.json`));

/** `web/graphiql/`, found upwards from this file (in `src/` or `dist/src/`). */
function webDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1, dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'graphiql', 'flint-graphiql.js'))) return join(dir, 'web', 'graphiql');
  }
  throw new Error('web/graphiql/ not found above the gateway code');
}

/** Served name → file. React and ReactDOM are the production UMD builds; GraphiQL 4 bundles graphql. */
const SOURCES: Record<string, () => string> = {
  'react.js': () => join(pkgDir('react'), 'umd', 'react.production.min.js'),
  'react-dom.js': () => join(pkgDir('react-dom'), 'umd', 'react-dom.production.min.js'),
  'graphql-ws.js': () => join(pkgDir('graphql-ws'), 'umd', 'graphql-ws.min.js'),
  'graphiql.js': () => join(pkgDir('graphiql'), 'dist', 'index.umd.js'),
  'graphiql.css': () => join(pkgDir('graphiql'), 'dist', 'style.css'),
  'flint-graphiql.js': () => join(webDir(), 'flint-graphiql.js'),
  'flint-graphiql.css': () => join(webDir(), 'flint-graphiql.css'),
};

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  /** First 16 hex digits of the sha256: the ETag and the `?v=` of versioned URLs. */
  hash: string;
}

let loading: Promise<Map<string, Asset>> | undefined;

/** Reads and compresses every asset once, on the first request that needs them. */
function assets(): Promise<Map<string, Asset>> {
  loading ??= (async () => {
    const map = new Map<string, Asset>();
    for (const [name, source] of Object.entries(SOURCES)) {
      // The UMD builds name source maps that are not served; drop the comment so devtools do not ask.
      const text = (await readFile(source(), 'utf8')).replace(/\n\/[/*]# sourceMappingURL=\S+\s*(\*\/)?\s*$/, '\n');
      const body = Buffer.from(text);
      const type = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
      map.set(name, { body, gzip: gzipSync(body), type, hash: createHash('sha256').update(body).digest('hex').slice(0, 16) });
    }
    return map;
  })().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/** The page's Content-Security-Policy: everything from this origin; React sets inline styles. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function page(a: Map<string, Asset>): string {
  // Relative to the page at /graphql, so a path prefix added by a proxy is kept.
  const src = (name: string) => `graphql/assets/${name}?v=${a.get(name)!.hash}`;
  const scripts = ['react.js', 'react-dom.js', 'graphql-ws.js', 'graphiql.js', 'flint-graphiql.js'];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flint GraphQL IDE</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${src('graphiql.css')}">
<link rel="stylesheet" href="${src('flint-graphiql.css')}">
</head>
<body>
<div id="graphiql"><p class="flint-loading">Loading the GraphQL IDE…</p></div>
<noscript>The GraphQL IDE needs JavaScript. Without it, POST queries to this URL with "Authorization: Bearer &lt;token&gt;".</noscript>
${scripts.map((s) => `<script src="${src(s)}"></script>`).join('\n')}
</body>
</html>
`;
}

function wantsPage(req: IncomingMessage, url: URL): boolean {
  return (
    (req.method === 'GET' || req.method === 'HEAD') &&
    url.pathname === '/graphql' &&
    !url.searchParams.has('query') &&
    (req.headers.accept ?? '').includes('text/html')
  );
}

function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string): void {
  res.writeHead(status, { 'x-content-type-options': 'nosniff', ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function serveAsset(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const asset = (await assets()).get(url.pathname.slice(ASSET_PREFIX.length));
  if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) {
    return send(req, res, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'No such IDE asset.\n');
  }
  const etag = `"${asset.hash}"`;
  const headers: Record<string, string> = {
    'content-type': asset.type,
    etag,
    vary: 'accept-encoding',
    // A URL naming this content's hash never changes; any other is revalidated.
    'cache-control': url.searchParams.get('v') === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    return void res.end();
  }
  const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
  send(req, res, 200, gzip ? { ...headers, 'content-encoding': 'gzip' } : headers, gzip ? asset.gzip : asset.body);
}

async function servePage(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-cache',
    vary: 'accept',
    'content-security-policy': CSP,
    'referrer-policy': 'no-referrer',
  };
  send(req, res, 200, headers, page(await assets()));
}

/** Answers 503 with what to do when GraphiQL's files cannot be read (a checkout without `npm ci`). */
function orMissing(handle: Route['handle']): Route['handle'] {
  return async (req, res, url) => {
    try {
      await handle(req, res, url);
    } catch (err) {
      if (res.headersSent) throw err;
      const why = `The GraphQL IDE's files are missing (${(err as Error).message}); run \`npm ci\`. The API itself works: POST to /graphql.\n`;
      send(req, res, 503, { 'content-type': 'text/plain; charset=utf-8' }, why);
    }
  };
}

/** `GET /graphql` (browsers) → GraphiQL, and its assets under `/graphql/assets/`. */
export function ideRoutes(): Route[] {
  return [
    { match: wantsPage, handle: orMissing(servePage) },
    { match: (_req, url) => url.pathname.startsWith(ASSET_PREFIX), handle: orMissing(serveAsset) },
  ];
}

/** Whether a document asks for the schema (`__schema` or `__type`, anywhere, fragments included). */
export function asksForSchema(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (isSchemaField(node.name.value)) {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}

export const INTROSPECTION_NEEDS_TOKEN =
  'Introspection (the schema behind the IDE\'s docs and autocompletion) needs a token: send the header `Authorization: Bearer <token>` ' +
  '(in GraphiQL, in the Headers pane). `flint token create --project NAME --role reader` makes one; `flint dev` prints the admin token.';

export const INTROSPECTION_OFF =
  'Introspection is turned off on this gateway (FLINT_INTROSPECTION=false); other queries work. ' +
  'The schema is schema/schema.graphql in Flint\'s source, or ask the operator to turn introspection on.';

const isSchemaField = (name: string): boolean => name === '__schema' || name === '__type';

/**
 * Apollo plugin: an anonymous `__schema`/`__type` query is UNAUTHENTICATED (HTTP 401),
 * before anything runs. When introspection is off (Apollo's own validation rule
 * refuses it) the refusal says so in Flint's words instead of Apollo's.
 */
export function introspectionPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async validationDidStart() {
          return async (errors) => {
            for (const e of errors ?? []) {
              if (e instanceof GraphQLError && e.extensions.validationErrorCode === 'INTROSPECTION_DISABLED') e.message = INTROSPECTION_OFF;
            }
          };
        },
        async didResolveOperation({ contextValue, document }) {
          if (contextValue.principal || !asksForSchema(document)) return;
          throw new GraphQLError(INTROSPECTION_NEEDS_TOKEN, {
            originalError: new UnauthenticatedError(INTROSPECTION_NEEDS_TOKEN),
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) } },
          });
        },
      };
    },
  };
}

/** Refuses `__schema` and `__type` with {@link INTROSPECTION_OFF}. */
const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    if (isSchemaField(node.name.value)) context.reportError(new GraphQLError(INTROSPECTION_OFF, { nodes: [node] }));
  },
});

/**
 * graphql-ws's `validate` when introspection is off: GraphQL's rules plus one refusing
 * `__schema`/`__type`, so the WebSocket path refuses it like HTTP does. `undefined`
 * (graphql-ws's default) when it is on; anonymous sockets are refused anyway.
 */
export function wsValidate(introspection: boolean): typeof validate | undefined {
  if (introspection) return undefined;
  return (schema, document, rules = specifiedRules, ...rest) => validate(schema, document, [...rules, noIntrospection], ...rest);
}
