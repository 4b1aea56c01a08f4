/**
 * `flint token create|list|revoke`: API tokens, straight in the configured database (they
 * work while Flint runs, and without a gateway). `revoke` also tells the running gateways
 * over NATS when FLINT_NATS_URL is set, so they close the token's WebSockets at once.
 */
import { broadcastTokenRevoked, natsAuthOptions } from '../bus/index.js';
import { natsAuthProblems, type FlintConfig } from '../config/index.js';
import { createToken, listTokens, revokeToken, ROLES, type Db, type Role, type TokenView } from '../db/index.js';
import { BadInputError, checkProjectName, checkTokenName, parseLifetime, Problems, tokenStatus } from '../domain/index.js';
import { ColumnError, formatAge, NONE, OUTPUT_FORMATS, render, renderTable, type OutputFormat } from './output.js';
import { configOrExit, EXIT_CONFIG, openDatabase, roleLogger } from './runtime.js';

export interface TokenCreateOptions {
  project: string;
  role: string;
  name?: string;
  expiresIn?: string;
  json?: boolean;
  output?: string;
  /** `-f/--format` (wins over `--output`) and `-c/--column`: the program's global options. */
  format?: string;
  column?: string[];
}

/** What `-o json` prints for a new token (and the old `--json` too). */
export interface CreatedTokenJson {
  id: string;
  token: string;
  projectId: string;
  project: string;
  role: Role;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
}

function usageError(command: string, problems: string[]): never {
  process.stderr.write(`flint token ${command}: ${problems.join('; ')}\n`);
  process.exit(EXIT_CONFIG);
}

function exitOnProblems(command: string, problems: Problems): void {
  try {
    problems.throwIfAny();
  } catch (err) {
    if (err instanceof BadInputError) usageError(command, [...err.problems]);
    throw err;
  }
}

function outputFormat(command: string, opts: { output?: string; format?: string; json?: boolean }): OutputFormat {
  if (opts.json) return 'json';
  const o = opts.format ?? opts.output ?? 'table';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(o)) usageError(command, [`-o/--output: one of ${OUTPUT_FORMATS.join(', ')}`]);
  return o as OutputFormat;
}

async function withDb<T>(fn: (db: Db, config: FlintConfig) => Promise<T>): Promise<T> {
  const config = configOrExit();
  const db = await openDatabase(config, roleLogger('token', config), { migrate: true });
  try {
    return await fn(db, config);
  } finally {
    await db.close();
  }
}

export async function runTokenCreate(opts: TokenCreateOptions): Promise<void> {
  const problems = new Problems();
  checkProjectName(problems, '--project', opts.project);
  if (!(ROLES as readonly string[]).includes(opts.role)) problems.add(`--role: one of ${ROLES.join(', ')}`);
  checkTokenName(problems, '--name', opts.name);
  let lifetimeMs: number | undefined;
  if (opts.expiresIn !== undefined) {
    const l = parseLifetime(opts.expiresIn);
    if (typeof l === 'string') problems.add(`--expires-in: ${l}`);
    else lifetimeMs = l;
  }
  const format = outputFormat('create', opts);
  exitOnProblems('create', problems);
  await withDb(async (db) => {
    const expiresAt = lifetimeMs === undefined ? null : new Date(Date.now() + lifetimeMs);
    const { token, row, principal } = await createToken(db.fork(), opts.project, opts.role as Role, opts.name, { expiresAt });
    if (format === 'table' && !opts.column?.length) {
      // Just the secret, as always, so `TOKEN=$(flint token create …)` works.
      process.stdout.write(`${token}\n`);
      if (expiresAt) process.stderr.write(`(token ${row.id} expires at ${expiresAt.toISOString()})\n`);
      return;
    }
    const out: CreatedTokenJson = {
      id: row.id,
      token,
      projectId: principal.projectId,
      project: principal.projectName,
      role: principal.role,
      name: row.name,
      createdAt: row.createdAt.toISOString(),
      expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
    };
    writeOutput('create', format, out, () => '', opts.column);
  });
}

/** What `flint token list -o json` prints per token. */
export function tokenJson(t: TokenView, now: Date) {
  return {
    id: t.id,
    projectId: t.projectId,
    project: t.projectName,
    role: t.role,
    name: t.name,
    status: tokenStatus(t, now),
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

/** The table of `flint token list`: never a secret or a hash (the rows have neither). */
export function tokenTable(tokens: readonly TokenView[], now: Date): string {
  const when = (d: Date | null, future: boolean): string => {
    if (!d) return NONE;
    if (!future || d.getTime() <= now.getTime()) return `${d.toISOString()} (${formatAge(d.toISOString(), now.getTime())})`;
    return `${d.toISOString()} (in ${formatAge(now.toISOString(), d.getTime()).replace(/ ago$/, '')})`;
  };
  return renderTable(
    ['ID', 'Project', 'Role', 'Name', 'Status', 'Created', 'Expires', 'Last used'],
    tokens.map((t) => [t.id, t.projectName, t.role, t.name ?? NONE, tokenStatus(t, now), when(t.createdAt, false), when(t.expiresAt, true), when(t.lastUsedAt, false)]),
  );
}

/** Writes `data` in `format` (see `render`); an unknown `-c` column is a usage error. */
function writeOutput(command: string, format: OutputFormat, data: unknown, table: () => string, columns: readonly string[] | undefined): void {
  try {
    process.stdout.write(render(format, data, table, columns));
  } catch (err) {
    if (err instanceof ColumnError) usageError(command, [err.message]);
    throw err;
  }
}

export async function runTokenList(opts: { project?: string; includeRevoked?: boolean; output?: string; format?: string; column?: string[] }): Promise<void> {
  const problems = new Problems();
  if (opts.project !== undefined) checkProjectName(problems, '--project', opts.project);
  const format = outputFormat('list', opts);
  exitOnProblems('list', problems);
  await withDb(async (db) => {
    const tokens: TokenView[] = [];
    let after: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const page = await listTokens(db.fork(), { filter: { projectName: opts.project, includeRevoked: opts.includeRevoked ?? false }, first: 500, ...(after ? { after } : {}) });
      tokens.push(...page.rows);
      const last = page.rows.at(-1);
      if (!page.hasNextPage || !last) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
    const now = new Date();
    writeOutput('list', format, tokens.map((t) => tokenJson(t, now)), () => tokenTable(tokens, now), opts.column);
  });
}

/** Exit code of `flint token revoke` for an id that names no token. */
export const EXIT_TOKEN_NOT_FOUND = 4;

export async function runTokenRevoke(id: string): Promise<void> {
  await withDb(async (db, config) => {
    const r = await revokeToken(db.fork(), id);
    if (!r) {
      process.stderr.write(`flint token revoke: no token with id ${JSON.stringify(id)}; see \`flint token list --include-revoked\`\n`);
      process.exitCode = EXIT_TOKEN_NOT_FOUND;
      return;
    }
    const revokedAt = r.token.revokedAt!;
    process.stdout.write(r.revokedNow ? `Revoked token ${id} (project ${r.token.projectName}, ${r.token.role}).\n` : `Token ${id} was already revoked at ${revokedAt.toISOString()}.\n`);
    // The gateways' token cache TTL and WebSocket re-check (src/gateway/http/token-cache.ts, token-guard.ts) bound this.
    const fallback = 'running gateways refuse it within a few seconds (their cache expires and they re-check open WebSockets)';
    if (!config.natsUrl) {
      process.stdout.write(`FLINT_NATS_URL is not set, so no gateway was told; ${fallback}.\n`);
      return;
    }
    // Only gateways may publish on flint.gw.>: the CLI uses the gateways' credentials.
    if (natsAuthProblems(config, 'token revoke').length > 0) {
      process.stdout.write(`FLINT_NATS_NKEY_SEED_FILE (the gateways' NATS credentials) is not set, so no gateway was told; ${fallback}.\n`);
      return;
    }
    try {
      const auth = natsAuthOptions(config.natsAuth);
      await broadcastTokenRevoked(config.natsUrl, { tokenId: id, revokedAt: revokedAt.toISOString() }, 'flint-token-revoke', 3000, auth);
      process.stdout.write(`Told the gateways over NATS (${config.natsUrl.replace(/\/\/[^@/]*@/, '//***@')}): they refuse it and close its WebSockets now.\n`);
    } catch (err) {
      process.stderr.write(`flint token revoke: could not reach NATS at ${config.natsUrl.replace(/\/\/[^@/]*@/, '//***@')} (${(err as Error).message}); ${fallback}.\n`);
    }
  });
}
