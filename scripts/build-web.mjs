#!/usr/bin/env node
// Bundles the web pages the gateway serves (web/<page>/) into dist/web/ with esbuild:
// <page>.js (Preact + graphql-ws client, minified, with a source map), <page>.css and
// <page>.html. Nothing is fetched at run time from anywhere but the gateway. esbuild does
// not check types, so each page's own tsconfig.json (DOM + Preact JSX) is checked first.
// Usage: node scripts/build-web.mjs   (part of `npm run build`)
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist', 'web');

/** Every page: its entry module, stylesheet and HTML shell, all under web/<name>/. */
const PAGES = [{ name: 'dashboard', entry: 'main.tsx', css: 'dashboard.css', html: 'index.html' }];

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

await mkdir(OUT, { recursive: true });
for (const page of PAGES) {
  const dir = join(ROOT, 'web', page.name);
  const check = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
  if (check.status !== 0) {
    process.stderr.write(`build-web: type errors in web/${page.name}\n`);
    process.exit(1);
  }
  await build({
    entryPoints: [
      { in: join(dir, page.entry), out: page.name },
      { in: join(dir, page.css), out: page.name },
    ],
    outdir: OUT,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome109', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'eof',
    logLevel: 'warning',
  });
  await copyFile(join(dir, page.html), join(OUT, `${page.name}.html`));
}
