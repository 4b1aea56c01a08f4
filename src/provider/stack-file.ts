/**
 * Reads a stack file (YAML, or JSON, which YAML reads too) into a {@link Stack}, with every
 * problem pointing at its place: `stack.yaml:4:14: volumes.db.sizeGiB: …`. Pure.
 */
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { stackFileSchema, type Stack } from './stack-schema.js';

/** One problem of a stack file, at a line and column (1-based) when it has one. */
export interface StackProblem {
  line: number | null;
  col: number | null;
  /** The dotted path of the value (`volumes.db.sizeGiB`); empty for the file itself. */
  path: string;
  message: string;
}

/** A stack file that cannot be used; `message` lists every problem, one per line. */
export class StackFileError extends Error {
  readonly problems: readonly StackProblem[];

  constructor(file: string, problems: readonly StackProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'StackFileError';
    this.problems = problems;
  }
}

/** `file:line:col: path: message`, as compilers print it. */
export function formatProblem(file: string, p: StackProblem): string {
  const at = p.line === null ? file : `${file}:${p.line}:${p.col}`;
  return `${at}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

type Key = string | number;

/** The node at `path`, or the nearest one above it that exists (a missing field points at its object). */
function nodeAt(doc: Document, path: readonly Key[]): Node | null {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : (doc.getIn(path.slice(0, n), true) as Node | undefined);
    if (node && typeof node === 'object' && 'range' in node && node.range) return node;
  }
  return null;
}

/** The key node of `key` in the map at `path` (where an unknown key is written). */
function keyNode(doc: Document, path: readonly Key[], key: string): Node | null {
  const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(map)) return null;
  const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
  return pair && isScalar(pair.key) ? pair.key : null;
}

function problemsOf(doc: Document, lines: LineCounter, error: z.ZodError): StackProblem[] {
  const at = (node: Node | null, path: readonly Key[], message: string): StackProblem => {
    const pos = node?.range ? lines.linePos(node.range[0]) : null;
    return { line: pos?.line ?? null, col: pos?.col ?? null, path: path.join('.'), message };
  };
  return error.issues.flatMap((issue) => {
    const path = issue.path.filter((k): k is Key => typeof k !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => at(keyNode(doc, path, key) ?? nodeAt(doc, path), [...path, key], unknownKeyMessage(path)));
    }
    // A bad key (a record's, or a reserved metadata key) is reported at the key, not its value.
    if (issue.code === 'invalid_key' || (issue.code === 'custom' && issue.params?.at === 'key')) {
      const key = String(path[path.length - 1]);
      const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
      return [at(keyNode(doc, path.slice(0, -1), key) ?? nodeAt(doc, path), path, message)];
    }
    // A missing field has no node of its own: it is reported at its object, naming the field.
    const missing = doc.getIn(path, true) === undefined && path.length > 0;
    return [at(nodeAt(doc, path), path, missing && issue.code === 'invalid_type' ? `is required (${issue.message})` : issue.message)];
  });
}

function unknownKeyMessage(path: readonly Key[]): string {
  return path.length === 0 ? 'unknown field (a stack file has stack, volumes, snapshots and attachments)' : 'unknown field';
}

/**
 * Parses and validates the text of stack file `file` (named in the messages).
 * @throws StackFileError listing every problem: YAML syntax first, then the schema's.
 */
export function parseStackFile(file: string, text: string): Stack {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length) {
    throw new StackFileError(
      file,
      doc.errors.map((e) => ({ line: e.linePos?.[0].line ?? null, col: e.linePos?.[0].col ?? null, path: '', message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') })),
    );
  }
  const result = stackFileSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const byPlace = (a: StackProblem, b: StackProblem) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
    throw new StackFileError(file, problemsOf(doc, lines, result.error).sort(byPlace));
  }
  return result.data as Stack;
}
