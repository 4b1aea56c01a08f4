/**
 * `flint plan`, `flint apply` and `flint import`: volumes, snapshots, attachments and backup
 * policies declared in a stack file (YAML or JSON), their state read from Flint by the stack's
 * metadata labels and keys (src/provider/).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import {
  applyPlan,
  applySummary,
  formatPlan,
  hasChanges,
  labelsFor,
  parseStackFile,
  planStack,
  ProviderError,
  StackFileError,
  StackProvider,
  type Plan,
  type Stack,
} from '../../provider/index.js';
import { parsePositiveInt } from './args.js';
import { apiAction, type CliContext } from './context.js';
import { CliError, EXIT } from './exit-codes.js';

interface StackOptions {
  file: string;
  prune?: boolean;
  waitTimeout: number;
}

/** Reads and checks the stack file. @throws CliError BAD_USER_INPUT (exit 2) with every problem at its line. */
export function readStackFile(file: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): Stack {
  let text: string;
  try {
    text = read(file);
  } catch (err) {
    throw new CliError('BAD_USER_INPUT', `Cannot read the stack file ${file}: ${(err as Error).message}`);
  }
  try {
    return parseStackFile(file, text);
  } catch (err) {
    if (err instanceof StackFileError) throw new CliError('BAD_USER_INPUT', `The stack file is not valid:\n${err.message}\n`.trimEnd());
    throw err;
  }
}

function provider(ctx: CliContext, o: StackOptions, report?: (line: string) => void): StackProvider {
  return new StackProvider(ctx.client, { operationTimeoutMs: o.waitTimeout * 1000, ...(report && { report }) });
}

async function planOf(ctx: CliContext, o: StackOptions, report?: (line: string) => void): Promise<{ stack: Stack; plan: Plan; provider: StackProvider }> {
  const stack = readStackFile(o.file);
  const p = provider(ctx, o, report);
  return { stack, plan: planStack(stack, await p.read(stack), { prune: o.prune === true }), provider: p };
}

function refuseErrors(plan: Plan): void {
  if (plan.errors.length) throw new CliError('INVALID_PLAN', `The plan has ${plan.errors.length} error${plan.errors.length === 1 ? '' : 's'} (above); nothing was changed.`, EXIT.ERROR);
}

/** Asks on the terminal; true only for "yes". */
async function confirmed(stack: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(`Apply these changes to stack ${stack}? Only 'yes' applies: `)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

function stackCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .requiredOption('-f, --file <path>', 'the stack file (YAML or JSON)')
    .option('--wait-timeout <seconds>', 'give up waiting for one operation after this long', parsePositiveInt, 300);
}

/** Registers `flint plan`, `flint apply` and `flint import`. */
export function registerStackCommands(program: Command): void {
  stackCommand(program, 'plan', 'show what `flint apply` would change to make Flint hold what a stack file declares (volumes, snapshots, attachments, backup policies)')
    .option('--prune', 'also plan to delete the stack\'s resources that the file no longer names')
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are (1 on errors), like terraform plan')
    .action(
      apiAction<StackOptions & { detailedExitcode?: boolean }>(async (ctx, _args, o) => {
        const { plan } = await planOf(ctx, o);
        ctx.print(plan, () => formatPlan(plan));
        refuseErrors(plan);
        if (o.detailedExitcode && hasChanges(plan)) process.exitCode = 2;
      }),
    );

  stackCommand(program, 'apply', 'make Flint hold what a stack file declares: shows the plan, asks, then creates, updates, replaces (and with --prune deletes) its resources, in dependency order')
    .option('--prune', 'also delete (detach) the stack\'s resources that the file no longer names')
    .option('--auto-approve', 'apply without asking (needed when stdin is not a terminal)')
    .action(
      apiAction<StackOptions & { autoApprove?: boolean }>(async (ctx, _args, o) => {
        const out = (line: string) => void process.stdout.write(`${line}\n`);
        const { plan, provider: p } = await planOf(ctx, o, out);
        process.stdout.write(formatPlan(plan));
        refuseErrors(plan);
        if (!hasChanges(plan)) return;
        if (!o.autoApprove) {
          if (!process.stdin.isTTY) throw new CliError('BAD_USER_INPUT', 'flint apply asks before changing anything, and stdin is not a terminal: pass --auto-approve to apply this plan without asking.');
          if (!(await confirmed(plan.stack))) throw new CliError('CANCELLED', 'Apply cancelled; nothing was changed.', EXIT.ERROR);
        }
        out('');
        const results = await applyPlan(plan, p, out);
        const summary = applySummary(results);
        const failed = results.find((r) => r.error);
        if (failed) throw new CliError(failed.error!.code, summary, EXIT.ERROR);
        out(summary);
      }),
    );

  stackCommand(program, 'import', 'adopt existing volumes and snapshots into a stack: `flint import -f stack.yaml db=VOLUME_ID snapshot.base=SNAPSHOT_ID` labels each as that resource of the stack')
    .argument('<[kind.]name=id...>', 'a volume (or `snapshot.NAME`) of the stack file and the id of the one it is; attachments need no import: apply adopts one made for the same instance and host')
    .action(
      apiAction<StackOptions>(async (ctx, args, o) => {
        const stack = readStackFile(o.file);
        // A variadic argument arrives as one array.
        const assignments = importAssignments(stack, (args as unknown as string[][])[0] ?? []);
        const p = provider(ctx, o);
        for (const { kind, name, id } of assignments) {
          let already: boolean;
          try {
            already = (await p[kind].adopt(stack.stack, name, id)).already;
          } catch (err) {
            if (err instanceof ProviderError) throw new CliError(err.code, err.message);
            throw err;
          }
          const labels = Object.entries(labelsFor(stack.stack, name)).map(([k, v]) => `${k}=${v}`).join(', ');
          process.stdout.write(already ? `${kind}.${name}: ${id} already is this ${kind} of stack ${stack.stack}; nothing to do.\n` : `${kind}.${name}: imported ${id} (${labels}).\n`);
        }
        process.stdout.write(`Run \`flint plan -f ${o.file}\` to see how the imported resources differ from the stack file.\n`);
      }),
    );
}

/**
 * The `[kind.]name=id` arguments of `flint import` (kind `volume`, the default, or
 * `snapshot`), checked against the stack file.
 * @throws CliError BAD_USER_INPUT for a malformed one, a name the file does not declare, or one given twice.
 */
export function importAssignments(stack: Stack, args: readonly string[]): { kind: 'volume' | 'snapshot'; name: string; id: string }[] {
  const seen = new Set<string>();
  return args.map((a) => {
    const at = a.indexOf('=');
    if (at < 1 || at === a.length - 1) throw new CliError('BAD_USER_INPUT', `Expected [volume.|snapshot.]name=ID, got "${a}".`);
    const target = a.slice(0, at);
    const m = /^(volume|snapshot)\.(.+)$/.exec(target);
    const kind = (m?.[1] ?? 'volume') as 'volume' | 'snapshot';
    const name = m?.[2] ?? target;
    const declared = Object.keys((kind === 'volume' ? stack.volumes : stack.snapshots) ?? {});
    if (!declared.includes(name)) throw new CliError('BAD_USER_INPUT', `The stack file declares no ${kind} "${name}" (it has: ${declared.join(', ') || 'none'}).`);
    if (seen.has(`${kind}.${name}`)) throw new CliError('BAD_USER_INPUT', `${kind}.${name} is given twice.`);
    seen.add(`${kind}.${name}`);
    return { kind, name, id: a.slice(at + 1) };
  });
}
