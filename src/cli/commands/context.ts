/**
 * What every API command shares: the global options (`--url`, `--token`, `--output`),
 * the SDK client they configure, printing in the chosen format, and the wrapper that
 * turns a thrown error into `flint: <message> (<code>)` and an exit code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { FlintClient } from '../../client/index.js';
import { OUTPUT_FORMATS, render, type OutputFormat } from '../output.js';
import { describeFailure, formatFailure } from './exit-codes.js';

/** Where the CLI looks for the gateway when neither `--url` nor `FLINT_URL` says. */
export const DEFAULT_URL = 'http://127.0.0.1:4000/graphql';

/** The program-wide options, as commander parses them. */
export interface GlobalOptions {
  url: string;
  token?: string;
  output: OutputFormat;
}

/** Adds `--url`, `--token` and `--output` to the program (commander reads them anywhere on the line). */
export function addGlobalOptions(program: Command): void {
  program
    .addOption(new Option('--url <url>', 'GraphQL endpoint of the gateway').env('FLINT_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'API token (default: $FLINT_DATA_DIR/admin-token, else ./.flint/admin-token, when readable)').env('FLINT_TOKEN'))
    .addOption(new Option('-o, --output <format>', 'output format of the API commands').choices(OUTPUT_FORMATS).default('table'));
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
  /** `render`s `data` in the chosen format to stdout; `table` builds the table text. */
  print(data: unknown, table: () => string): void;
  /** The stream for progress and hints (stderr). */
  stderr: NodeJS.WriteStream;
}

function createContext(opts: GlobalOptions): CliContext {
  const client = new FlintClient({ url: opts.url, token: opts.token || tokenFromDataDir(process.env) });
  return {
    client,
    format: opts.output,
    print: (data, table) => void process.stdout.write(render(opts.output, data, table)),
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
