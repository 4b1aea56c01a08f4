/**
 * Parsers of command-line values, for commander's `argParser`: they throw
 * `InvalidArgumentError`, which commander reports as a usage error (exit 2).
 */
import { InvalidArgumentError } from 'commander';

/** A positive whole number (`--size`, `--limit`, `--wait-timeout`). */
export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return n;
}

/** A version for `--expected-version`: a whole number, 0 or more. */
export function parseVersion(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('expected a whole number (the volume\'s `version`).');
  return Number(value);
}

/** One `key=value`: the key is what precedes the first `=` and must not be empty; the value may be empty. */
export function parseProperty(value: string): [string, string] {
  const at = value.indexOf('=');
  if (at < 1) throw new InvalidArgumentError(`expected key=value, got "${value}".`);
  return [value.slice(0, at), value.slice(at + 1)];
}

/** Collects repeated `--property k=v` into an object (the last value of a key wins). */
export function collectProperty(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const [k, v] = parseProperty(value);
  return { ...previous, [k]: v };
}

/** Collects `--status` values, each possibly comma-separated, in capitals (`available,error` → AVAILABLE, ERROR). */
export function collectStatus(value: string, previous: string[] | undefined): string[] {
  const more = value
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  if (!more.length) throw new InvalidArgumentError('expected a volume status, e.g. AVAILABLE.');
  return [...(previous ?? []), ...more];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a reference is an id (a UUID) rather than a name. */
export function isUuid(ref: string): boolean {
  return UUID.test(ref);
}
