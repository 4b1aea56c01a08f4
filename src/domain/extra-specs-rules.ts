/**
 * What a volume type's extra specs may say, checked when a type is created or changed
 * (`createVolumeType`, `updateVolumeType`). Pure.
 *
 * The scheduler reads them as Cinder does (src/scheduler/placement/filters.ts): an
 * unscoped key or a `capabilities:<name>` key must match the pool's capability of that
 * name, by a plain value or an `extra_specs_ops` operator; `provisioning:type` picks thin
 * or thick; keys of other scopes (`qos:…`, `replication:…`) are kept for drivers. The
 * matcher treats a malformed spec as a mismatch, so a typo would silently keep every
 * pool out: these checks refuse it up front instead.
 */
import { chars, LIMITS, type Problems } from './volume-input.js';

/** Operators of Cinder's `extra_specs_ops` (and nova's `<all-in>`), by how many operands they take. */
const NUMERIC_OPS = new Set(['=', '==', '!=', '>=', '<=']);
const STRING_OPS = new Set(['s==', 's!=', 's<', 's<=', 's>', 's>=']);
const BOOL_WORDS = new Set(['1', 't', 'true', 'on', 'y', 'yes', '0', 'f', 'false', 'off', 'n', 'no']);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
export const PROVISIONING_TYPES = ['thin', 'thick'] as const;

/** Why one capability spec is malformed, or null when the scheduler can read it. */
export function specSyntaxProblem(spec: string): string | null {
  const words = spec.split(/\s+/).filter((w) => w !== '');
  const [op, ...operands] = words;
  if (op === undefined) return 'is empty; give a value or an operator with its operand, e.g. "<is> True"';
  if (NUMERIC_OPS.has(op)) {
    if (operands.length !== 1 || !NUMBER.test(operands[0]!)) return `needs one number after "${op}", e.g. "${op} 10"`;
    return null;
  }
  if (STRING_OPS.has(op) || op === '<in>') {
    if (operands.length !== 1) return `needs exactly one word after "${op}", e.g. "${op} ssd"`;
    return null;
  }
  if (op === '<all-in>') return operands.length === 0 ? 'needs at least one word after "<all-in>"' : null;
  if (op === '<is>') {
    if (operands.length !== 1 || !BOOL_WORDS.has(operands[0]!.toLowerCase())) return 'needs True or False after "<is>", e.g. "<is> True"';
    return null;
  }
  if (op === '<or>') {
    // `<or> a <or> b …`: alternatives at even positions, the keyword between them.
    const ok = operands.length >= 1 && operands.every((w, i) => (i % 2 === 0 ? w !== '<or>' : w === '<or>')) && operands.length % 2 === 1;
    return ok ? null : 'must read "<or> a <or> b" (one word per alternative)';
  }
  if (op.startsWith('<') && op.endsWith('>')) return `uses the unknown operator ${op}; known: <in>, <all-in>, <is>, <or>, =, ==, !=, >=, <=, s==, s!=, s<, s<=, s>, s>=`;
  return null;
}

/**
 * Checks extra specs: a flat object of string values within the metadata limits, every
 * capability spec readable by the CapabilitiesFilter, `provisioning:type` thin or thick.
 * Adds every problem to `p` and returns the specs as strings (undefined when not given).
 */
export function checkExtraSpecs(p: Problems, specs: unknown): Record<string, string> | undefined {
  if (specs === undefined || specs === null) return undefined;
  if (typeof specs !== 'object' || Array.isArray(specs)) {
    p.add('extraSpecs must be a JSON object of string values, e.g. {"capabilities:tier": "gold"}');
    return undefined;
  }
  const entries = Object.entries(specs as Record<string, unknown>);
  if (entries.length > LIMITS.metadataMaxKeys) p.add(`extraSpecs may have at most ${LIMITS.metadataMaxKeys} keys (got ${entries.length})`);
  for (const [key, value] of entries) {
    const shown = JSON.stringify(key.slice(0, 60));
    if (key.trim().length === 0 || chars(key) > LIMITS.metadataKeyMax) {
      p.add(`extraSpecs key ${shown} must be 1 to ${LIMITS.metadataKeyMax} characters`);
      continue;
    }
    if (typeof value !== 'string') {
      p.add(`extraSpecs value of ${shown} must be a string (got ${value === null ? 'null' : typeof value}); write numbers and booleans as text, e.g. ">= 10" or "<is> True"`);
      continue;
    }
    if (chars(value) > LIMITS.metadataValueMax) {
      p.add(`extraSpecs value of ${shown} must be at most ${LIMITS.metadataValueMax} characters`);
      continue;
    }
    const scope = key.split(':');
    if (key === 'provisioning:type') {
      if (!(PROVISIONING_TYPES as readonly string[]).includes(value)) p.add(`extraSpecs "provisioning:type" must be thin or thick (got ${JSON.stringify(value)})`);
      continue;
    }
    if (scope.length > 1 && scope[0] !== 'capabilities') continue; // another scope: for drivers, not the scheduler
    const path = scope[0] === 'capabilities' ? scope.slice(1) : scope;
    if (path.length !== 1 || path[0] === '') {
      p.add(`extraSpecs key ${shown} must name one capability, as "capabilities:<name>" or "<name>" (pools report flat capabilities)`);
      continue;
    }
    const problem = specSyntaxProblem(value);
    if (problem) p.add(`extraSpecs ${shown}: ${JSON.stringify(value)} ${problem}`);
  }
  return specs as Record<string, string>;
}
