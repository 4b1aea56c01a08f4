#!/usr/bin/env node
// Runs the compiled CLI; `npm run build` (or `npm start` / `npm test`) compiles it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('flint: not built yet; run `npm run build` in the checkout first.\n');
  process.exit(1);
}
await import(main);
