/**
 * Cinder's extra-spec matcher (`cinder/scheduler/filters/extra_specs_ops.py`), with
 * nova's `<all-in>`. A spec is `<op> operand…` or a plain string compared for equality.
 *
 * | op | meaning |
 * | --- | --- |
 * | `=` | number >= operand (Cinder's legacy meaning, not equality) |
 * | `==` `!=` `>=` `<=` | numeric comparison |
 * | `s==` `s!=` `s<` `s<=` `s>` `s>=` | string comparison |
 * | `<in>` | operand is a substring of the capability |
 * | `<all-in>` | every operand is a substring of the capability |
 * | `<is>` | both are the same boolean (oslo `bool_from_string`: 1/t/true/on/y/yes, any case) |
 * | `<or>` | `<or> a <or> b`: the capability equals one of the alternatives |
 *
 * Departures from Cinder, where Python would crash or surprise: a number or boolean
 * capability is compared through its text (`5` matches `"5"`, `true` matches `"True"`)
 * instead of never equalling a string; a malformed spec (`<or>` alone) is a mismatch,
 * not an exception.
 */

const TRUE_WORDS = new Set(['1', 't', 'true', 'on', 'y', 'yes']);

/** oslo's `strutils.bool_from_string`, non-strict: anything not a true word is false. */
export function boolFromString(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  return TRUE_WORDS.has(String(value).trim().toLowerCase());
}

type Scalar = string | number | boolean;

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** The capability as Python would print it, so `s==` and `<in>` read the same as in Cinder. */
function text(value: Scalar): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Python's `float()`: NaN where Python raises ValueError (so the op does not match). */
function toFloat(value: Scalar): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  const s = value.trim().replace(/(\d)_(?=\d)/g, '$1');
  if (/^[+-]?inf(inity)?$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  return FLOAT.test(s) ? Number(s) : NaN;
}

function numeric(cmp: (a: number, b: number) => boolean) {
  return (value: Scalar, operand: string): boolean => {
    const a = toFloat(value);
    const b = toFloat(operand);
    return !Number.isNaN(a) && !Number.isNaN(b) && cmp(a, b);
  };
}

function textual(cmp: (a: string, b: string) => boolean) {
  return (value: Scalar, operand: string): boolean => cmp(text(value), operand);
}

/** Plain equality: exact text, booleans in any case. */
function equals(value: Scalar, expected: string): boolean {
  if (typeof value === 'boolean') return expected.toLowerCase() === text(value).toLowerCase();
  return text(value) === expected;
}

type Op = (value: Scalar, operand: string, rest: string[]) => boolean;

const OPS: Record<string, Op> = {
  '=': numeric((a, b) => a >= b),
  '==': numeric((a, b) => a === b),
  '!=': numeric((a, b) => a !== b),
  '>=': numeric((a, b) => a >= b),
  '<=': numeric((a, b) => a <= b),
  's==': textual((a, b) => a === b),
  's!=': textual((a, b) => a !== b),
  's<': textual((a, b) => a < b),
  's<=': textual((a, b) => a <= b),
  's>': textual((a, b) => a > b),
  's>=': textual((a, b) => a >= b),
  '<in>': (value, operand) => text(value).includes(operand),
  '<all-in>': (value, _operand, all) => all.every((word) => text(value).includes(word)),
  '<is>': (value, operand) => boolFromString(value) === boolFromString(operand),
  // Like Cinder, every second word is an alternative; the words between are the `<or>` keywords.
  '<or>': (value, _operand, all) => all.some((word, i) => i % 2 === 0 && equals(value, word)),
};

/**
 * Whether a pool's capability satisfies one extra spec. A missing capability
 * (`undefined`/`null`) never matches; a list matches when any element does.
 */
export function matchesSpec(capabilityValue: unknown, spec: string): boolean {
  if (Array.isArray(capabilityValue)) return capabilityValue.some((v) => matchesSpec(v, spec));
  if (!isScalar(capabilityValue)) return false;
  const [op, ...operands] = spec.split(/\s+/).filter((w) => w !== '');
  const method = op === undefined || !Object.hasOwn(OPS, op) ? undefined : OPS[op];
  if (method === undefined) return equals(capabilityValue, spec);
  const [first] = operands;
  return first !== undefined && method(capabilityValue, first, operands);
}
