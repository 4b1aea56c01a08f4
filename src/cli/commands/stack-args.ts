/**
 * `-f` names the stack file of `flint plan|apply|import` (as in `kubectl apply -f`), while
 * everywhere else it is the program's `-f/--format`, which commander reads anywhere on the
 * line. So, before commander parses, a `-f` after one of those commands becomes `--file`.
 * Pure.
 */

/** The commands whose `-f` is the stack file. */
export const STACK_COMMANDS: ReadonlySet<string> = new Set(['plan', 'apply', 'import']);

/** The program's options that take a value (the value is not a command name). */
const VALUED = new Set(['--url', '--token', '-o', '--output', '-f', '--format', '-c', '--column']);

/** `argv` (node, script, args…) with `-f X`, `-fX` and `-f=X` as `--file X` when the command is plan, apply or import. */
export function stackFileArgs(argv: readonly string[]): string[] {
  const out = [...argv];
  let i = 2;
  while (i < out.length && out[i]!.startsWith('-')) i += VALUED.has(out[i]!) ? 2 : 1;
  if (i >= out.length || !STACK_COMMANDS.has(out[i]!)) return out;
  for (let j = i + 1; j < out.length; j++) {
    const a = out[j]!;
    if (a === '--') break;
    if (a === '-f') out[j] = '--file';
    else if (a.startsWith('-f=')) out[j] = `--file=${a.slice(3)}`;
    else if (/^-f[^-]/.test(a)) out[j] = `--file=${a.slice(2)}`;
  }
  return out;
}
