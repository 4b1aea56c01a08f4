/**
 * What `flint volume …` and `flint snapshot …` share: the `--wait` and
 * `--expected-version` options, printing a mutation's result after waiting for it,
 * and fetching a list page by page.
 */
import type { Command } from 'commander';
import { parsePositiveInt, parseVersion } from './args.js';
import type { CliContext } from './context.js';
import type { CliError } from './exit-codes.js';

export interface WaitOptions {
  wait?: boolean;
  waitTimeout: number;
}

/** Adds `--wait` and `--wait-timeout` to an asynchronous mutation on a `noun` (volume, snapshot). */
export function waitable(cmd: Command, noun: string, until: string): Command {
  return cmd
    .option('--wait', `follow the ${noun} until ${until}; exit 1 if it ends in an ERROR state or the operation fails`)
    .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 1)', parsePositiveInt, 120);
}

/** Adds `--expected-version` for a conditional change of a `noun`. */
export function withExpectedVersion(cmd: Command, noun: string): Command {
  return cmd.option('--expected-version <n>', `fail with CONFLICT unless the ${noun} is still at this version`, parseVersion);
}

/** Adds `--idempotency-key` to a command that changes an existing resource (`what`: e.g. "extend"). */
export function withIdempotencyKey(cmd: Command, what: string): Command {
  return cmd.option('--idempotency-key <key>', `repeat the ${what} safely: the same key and request return the first operation, even after it ended`);
}

/** How to follow a mutation's result to its end, judge it and show it. */
export interface Follow<R> {
  waitFor(ctx: CliContext, started: R, timeoutMs: number): Promise<R>;
  failureOf(ctx: CliContext, result: R): Promise<CliError | undefined>;
  fields(result: R): string;
}

/** Prints a mutation's result, after waiting for its end with `--wait` (then failing on an ERROR outcome). */
export async function finishMutation<R>(ctx: CliContext, started: R, o: WaitOptions, follow: Follow<R>): Promise<void> {
  const result = o.wait ? await follow.waitFor(ctx, started, o.waitTimeout * 1000) : started;
  ctx.print(result, () => follow.fields(result));
  const failure = o.wait ? await follow.failureOf(ctx, result) : undefined;
  if (failure) throw failure;
}

/** One page of a connection, as the list queries return it. */
export interface Page<N> {
  edges: { node: N }[];
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
  totalCount: number;
}

/** The first page of `nouns` (plural, for the note on stderr), or every page with `allPages`. */
export async function listPages<N>(
  ctx: CliContext,
  nouns: string,
  o: { limit: number; allPages?: boolean },
  fetch: (first: number, after: string | null) => Promise<Page<N>>,
): Promise<N[]> {
  const items: N[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Page<N> = await fetch(o.limit, after);
    items.push(...page.edges.map((e) => e.node));
    after = page.pageInfo.endCursor;
    if (!page.pageInfo.hasNextPage || !after) break;
    if (!o.allPages) {
      ctx.stderr.write(`(${items.length} of ${page.totalCount} ${nouns} shown; --all-pages lists them all)\n`);
      break;
    }
  }
  return items;
}
