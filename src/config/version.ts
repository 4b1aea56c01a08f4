/** Flint's version, read once from its package.json. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | undefined;

/** Flint's version from its package.json (found upwards from this file, in `src/` or `dist/src/`). */
export function flintVersion(): string {
  if (version) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'flint' && pkg.version) return (version = pkg.version);
      } catch {
        // not ours; keep looking
      }
    }
    dir = dirname(dir);
  }
  return (version = 'unknown');
}
