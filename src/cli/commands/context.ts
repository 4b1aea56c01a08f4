/**
 * What every API command shares: the global options (`--url`, `--token`, `--output`),
 * the SDK client they configure, printing in the chosen format, and the wrapper that
 * turns a thrown error into `flint: <message> (<code>)` and an exit code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { FlintClient } from '../../client/index.js';
import { ColumnError, OUTPUT_FORMATS, render, type OutputFormat } from '../output.js';
import { CliError, describeFailure, formatFailure } from './exit-codes.js';

/** Where the CLI looks for the gateway when neither `--url` nor `FLINT_URL` says. */
export const DEFAULT_URL = 'http://127.0.0.1:4000/graphql';

/** The program-wide options, as commander parses them. */
export interface GlobalOptions {
  url: string;
  token?: string;
  output: OutputFormat;
  /** `-f/--format`, openstack's name of `--output`; wins when both are given. */
  format?: OutputFormat;
  /** `-c/--column`, repeated: only these fields, in this order. */
  column?: string[];
}

/** Collects repeated `-c` values (each may also be comma-separated). */
export function collectColumn(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((c) => c.trim()).filter(Boolean)];
}

/** Adds `--url`, `--token`, `--output`/`--format` and `--column` to the program (commander reads them anywhere on the line). */
export function addGlobalOptions(program: Command): void {
  program
    .addOption(new Option('--url <url>', 'GraphQL endpoint of the gateway').env('FLINT_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'API token (default: $FLINT_DATA_DIR/admin-token, else ./.flint/admin-token, when readable)').env('FLINT_TOKEN'))
    .addOption(new Option('-o, --output <format>', 'output format of the API commands').choices(OUTPUT_FORMATS).default('table'))
    .addOption(new Option('-f, --format <format>', 'the same as --output (openstack\'s name); wins over it').choices(OUTPUT_FORMATS))
    .addOption(
      new Option('-c, --column <name>', 'show only this field (a key of -o json, e.g. id, status, size_gib, operation.id); repeat for more, in this order').argParser(collectColumn),
    );
}

/**
 * The token to use when none was given: the admin token `flint dev` writes, in
 * `$FLINT_DATA_DIR/admin-token` (`./.flint/admin-token` without FLINT_DATA_DIR), if readable.
 */
export function tokenFromDataDir(env: NodeJS.ProcessEnv, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string | undefined {
  const path = join(env.FLINT_DATA_DIR || '.flint', 'admin-token');
  try {
    return read(path).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A running API command: its client, output format and streams. */
export interface CliContext {
  client: FlintClient;
  format: OutputFormat;
  /** The fields `-c` selected (empty: all). */
  columns: readonly string[];
  /** `render`s `data` in the chosen format to stdout; `table` builds the table text. CliError BAD_USER_INPUT for an unknown `-c` column. */
  print(data: unknown, table: () => string): void;
  /** The stream for progress and hints (stderr). */
  stderr: NodeJS.WriteStream;
}

function createContext(opts: GlobalOptions): CliContext {
  const client = new FlintClient({ url: opts.url, token: opts.token || tokenFromDataDir(process.env) });
  const format = opts.format ?? opts.output;
  const columns = opts.column ?? [];
  return {
    client,
    format,
    columns,
    print: (data, table) => {
      let text: string;
      try {
        text = render(format, data, table, columns);
      } catch (err) {
        if (err instanceof ColumnError) throw new CliError('BAD_USER_INPUT', err.message);
        throw err;
      }
      process.stdout.write(text);
    },
    stderr: process.stderr,
  };
}

/**
 * Wraps an API command's body as a commander action: builds the context from the
 * global and local options, runs `body` with the parsed arguments, prints a failure
 * as `flint: <message> (<code>)` and sets the exit code, and always closes the client.
 */
export function apiAction<O extends object>(body: (ctx: CliContext, args: string[], opts: O & GlobalOptions) => Promise<void>): (...all: unknown[]) => Promise<void> {
  return async (...all) => {
    const cmd = all[all.length - 1] as Command;
    const opts = cmd.optsWithGlobals<O & GlobalOptions>();
    const ctx = createContext(opts);
    try {
      await body(ctx, cmd.processedArgs as string[], opts);
    } catch (err) {
      const failure = describeFailure(err);
      process.stderr.write(`${formatFailure(failure)}\n`);
      process.exitCode = failure.exitCode;
    } finally {
      await ctx.client.close();
    }
  };
}
