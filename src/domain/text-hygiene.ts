/**
 * What text Flint accepts from callers, whatever the field. Pure.
 *
 * Refused everywhere: C0 control characters (U+0000–U+001F), DEL and the C1 controls
 * (U+007F–U+009F), unpaired UTF-16 surrogates, and the bidirectional overrides and
 * isolates (U+202A–U+202E, U+2066–U+2069). NUL breaks the databases (SQLite and
 * PostgreSQL refuse it), controls rewrite terminals and logs, an unpaired surrogate is
 * not Unicode at all (it cannot be stored as UTF-8), and a bidi override makes a name
 * read differently from what it is ("Trojan Source").
 *
 * Free text for people (`multiline`: descriptions and reasons) may keep line feeds and
 * tabs; a carriage return is refused there too, because it rewrites a terminal's line
 * and `\n` is the one line break Flint stores.
 *
 * Ids Flint gives out are UUIDs; anything else in an id field is a mistake of the caller.
 */

/** `line`: names, ids, keys, filters; `multiline`: descriptions and reasons (may keep `\n` and `\t`). */
export type TextPolicy = 'line' | 'multiline';

export type UnsafeKind = 'control' | 'surrogate' | 'bidi';

export interface UnsafeChar {
  /** Position of the character, counted in code points from 1, as a reader would count. */
  position: number;
  codePoint: number;
  kind: UnsafeKind;
}

/** Argument and input field names whose strings are free text for people. */
export const MULTILINE_FIELDS: ReadonlySet<string> = new Set(['description', 'reason']);

const KIND_WORDS: Record<UnsafeKind, string> = {
  control: 'a control character',
  surrogate: 'an unpaired surrogate (not a Unicode character)',
  bidi: 'a bidirectional override or isolate',
};

function kindOf(cp: number, policy: TextPolicy): UnsafeKind | undefined {
  if (cp <= 0x1f) return policy === 'multiline' && (cp === 0x0a || cp === 0x09) ? undefined : 'control';
  if (cp >= 0x7f && cp <= 0x9f) return 'control';
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) return 'bidi';
  if (cp >= 0xd800 && cp <= 0xdfff) return 'surrogate';
  return undefined;
}

/** The first character of `s` the policy refuses, or undefined when all is well. */
export function findUnsafeChar(s: string, policy: TextPolicy = 'line'): UnsafeChar | undefined {
  let position = 0;
  // codePointAt pairs a valid surrogate pair into one code point; an unpaired one stays in 0xD800–0xDFFF.
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    position++;
    if (cp > 0xffff) {
      i++;
      continue;
    }
    const kind = kindOf(cp, policy);
    if (kind) return { position, codePoint: cp, kind };
  }
  return undefined;
}

export function codePointName(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * `s` quoted for a message: at most `max` code points, and every character
 * {@link findUnsafeChar} would refuse written as `\uXXXX`, so a message never carries
 * what it complains about.
 */
export function quoteForMessage(s: string, max = 40): string {
  let out = '';
  let n = 0;
  let i = 0;
  for (; i < s.length && n < max; i++, n++) {
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) {
      out += String.fromCodePoint(cp);
      i++;
    } else if (kindOf(cp, 'line') || cp === 0x22 || cp === 0x5c) {
      out += cp === 0x22 ? '\\"' : cp === 0x5c ? '\\\\' : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else {
      out += s[i];
    }
  }
  return `"${out}${i < s.length ? '…' : ''}"`;
}

/** The message for an unsafe character found at `path` (e.g. `input.name`). */
export function unsafeTextMessage(path: string, u: UnsafeChar, policy: TextPolicy): string {
  const allowed = policy === 'multiline' ? ' (line feeds and tabs are fine here)' : '';
  const hint = u.codePoint === 0x0d && policy === 'multiline' ? 'use \\n alone for line breaks' : 'remove it';
  return (
    `${path} contains ${codePointName(u.codePoint)}, ${KIND_WORDS[u.kind]}, at character ${u.position}: ` +
    `text may not contain control characters, unpaired surrogates or bidirectional overrides${allowed}; ${hint}`
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` has the shape of the ids Flint gives out (a UUID). */
export function isIdShaped(s: string): boolean {
  return UUID.test(s);
}

/** The message for an id field whose value is not an id Flint gave out. */
export function malformedIdMessage(path: string, value: string): string {
  return (
    `${path} ${quoteForMessage(value)} is not an id Flint gave out: ids are UUIDs ` +
    '(32 hexadecimal digits as 8-4-4-4-12); copy it from the object\'s `id` or the list query'
  );
}
