/**
 * Parsers of single settings, free of I/O: a listen address (host:port), the database URL
 * (and the `DatabaseConfig` it gives), and the scheduler's weigher list. On a bad value
 * `parseListen` gives undefined, `parseDatabase` the problem's text, and `parseWeighers`
 * adds to `problems`; `loadConfig` (config.ts) reports them.
 */
import { isAbsolute, join, resolve } from 'node:path';

export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgresql'; readonly url: string };

/** Names the scheduler knows; checked here so a typo stops the start, not a request. */
export const WEIGHER_NAMES = ['CapacityWeigher', 'AllocatedCapacityWeigher', 'VolumeNumberWeigher'] as const;

export function parseWeighers(spec: string, problems: string[]): Array<{ name: string; multiplier: number | undefined }> {
  const out: Array<{ name: string; multiplier: number | undefined }> = [];
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, mult, ...rest] = part.split(':');
    const multiplier = mult === undefined ? undefined : Number(mult);
    if (!(WEIGHER_NAMES as readonly string[]).includes(name!) || rest.length || (multiplier !== undefined && !Number.isFinite(multiplier))) {
      problems.push(`FLINT_SCHEDULER_WEIGHERS: "${part}" is not NAME or NAME:MULTIPLIER with NAME one of ${WEIGHER_NAMES.join(', ')}`);
      continue;
    }
    out.push({ name: name!, multiplier });
  }
  return out;
}

export function parseListen(s: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function parseDatabase(url: string | undefined, dataDir: string, cwd: string): DatabaseConfig | string {
  if (url === undefined) return { kind: 'sqlite', path: join(dataDir, 'flint.sqlite') };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!path) return 'sqlite: needs a file path, e.g. sqlite:/var/lib/flint/flint.sqlite';
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (/^postgres(ql)?:\/\/[^\s]+\/[^\s/]+$/.test(url)) return { kind: 'postgresql', url };
  return `expected sqlite:PATH or postgres://USER@HOST:PORT/DATABASE, got "${url.replace(/:[^:@/]*@/, ':***@')}"`;
}
