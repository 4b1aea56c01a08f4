/**
 * What every role's entry point shares: reading the configuration (exit 2 on a bad
 * one), opening the database and NATS, and starting and stopping in order (`runRole`).
 */
import { connectBus, isAuthRefusal, isTlsFailure, natsAuthOptions, NatsCredentialsError, type Bus, type BusRole } from '../bus/index.js';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ConfigError, createLogger, ensurePrivateDir, loadConfig, natsAuthProblems, type FlintConfig, type Logger } from '../config/index.js';
import { logPermissionNote, openDb, type Db } from '../db/index.js';
import { StopStack, type Stopper } from '../lifecycle/index.js';

export const EXIT_CONFIG = 2;

export function configOrExit(env: NodeJS.ProcessEnv = process.env, extraChecks?: (c: FlintConfig) => string[]): FlintConfig {
  try {
    const config = loadConfig(env);
    const more = extraChecks?.(config) ?? [];
    if (more.length) throw new ConfigError(more);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`flint: ${err.message}\nNothing was started. See "Configuration" in the README.\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

export const needsNats = (role: string) => (c: FlintConfig): string[] =>
  c.natsUrl
    ? [...natsAuthProblems(c, role), ...natsCredentialProblems(c)]
    : [`FLINT_NATS_URL: required for \`flint ${role}\` (e.g. nats://127.0.0.1:4222); only \`flint dev\` starts its own nats-server`];

/** The NATS credential files that cannot be used (missing, unreadable, not a seed), each named. */
export function natsCredentialProblems(c: FlintConfig): string[] {
  try {
    natsAuthOptions(c.natsAuth);
    return [];
  } catch (err) {
    if (!(err instanceof NatsCredentialsError)) throw err;
    const variable = err.file === c.natsAuth.nkeySeedFile ? 'FLINT_NATS_NKEY_SEED_FILE' : err.file === c.natsAuth.tls?.caFile ? 'FLINT_NATS_TLS_CA' : err.file === c.natsAuth.tls?.certFile ? 'FLINT_NATS_TLS_CERT' : 'FLINT_NATS_TLS_KEY';
    return [`${variable}: ${err.message}`];
  }
}

/**
 * Makes the data dir private (0700): created so when `create`, tightened (and logged) when
 * it exists with a wider mode (src/config/private-files.ts).
 */
export function secureDataDir(config: FlintConfig, log: Logger, opts: { create: boolean }): void {
  ensurePrivateDir(config.dataDir, opts, logPermissionNote(log));
}

/** Opens the database; roles other than dev and migrate refuse to run on an old schema. */
export async function openDatabase(config: FlintConfig, log: Logger, opts: { migrate: boolean }): Promise<Db> {
  // A SQLite file in the data dir makes the data dir the database's directory: private.
  if (config.database.kind === 'sqlite') {
    const rel = relative(resolve(config.dataDir), dirname(resolve(config.database.path)));
    if (!rel.startsWith('..') && !isAbsolute(rel)) secureDataDir(config, log, { create: true });
  }
  const db = await openDb(config.database, { log });
  if (opts.migrate) {
    const applied = await db.migrate();
    if (applied.length) log.info({ applied }, 'database migrated');
  } else {
    const pending = await db.pending();
    if (pending.length) {
      await db.close();
      throw new Error(`The database schema is behind (${pending.length} migration(s) pending); run \`flint migrate\` first.`);
    }
  }
  return db;
}

/**
 * Connects `role` to NATS with the configured credentials. A server that refuses them (or a
 * TLS handshake that fails) is a `NatsCredentialsError` naming the file: the CLI exits 2.
 * A scheduler or agent started before any gateway waits here for the topology (logged once).
 */
export async function openBus(config: FlintConfig, role: BusRole, name: string, log: Logger, signal?: AbortSignal): Promise<Bus> {
  const files = config.natsAuth;
  const auth = natsAuthOptions(files, (message) => log.warn(message));
  if (files.insecure) log.warn('FLINT_NATS_INSECURE=true: connecting to NATS without credentials. Whoever reaches this NATS can command the agents; use it for development only (docs/operations.md, "The bus")');
  try {
    return await connectBus(config.natsUrl!, name, { role, host: config.agentHost, auth, replicas: config.natsReplicas, onWaiting: (what) => log.info(what), signal });
  } catch (err) {
    const url = config.natsUrl!.replace(/\/\/[^@/]*@/, '//***@');
    if (isAuthRefusal(err)) {
      const file = files.nkeySeedFile;
      throw new NatsCredentialsError(
        file ?? '(none)',
        file
          ? `NATS at ${url} refused the credentials in ${file} (FLINT_NATS_NKEY_SEED_FILE): ${(err as Error).message}. Check that the server's configuration lists this seed's public key (\`flint nats-config\`)`
          : `NATS at ${url} requires authentication (${(err as Error).message}): set FLINT_NATS_NKEY_SEED_FILE to this role's seed file`,
        { cause: err },
      );
    }
    if (files.tls && isTlsFailure(err)) {
      const named = [files.tls.caFile, files.tls.certFile, files.tls.keyFile].filter(Boolean).join(', ');
      throw new NatsCredentialsError(named, `TLS to NATS at ${url} failed with ${named} (FLINT_NATS_TLS_*): ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

/** What a role has started, as `runRole`'s start function registers it. */
export interface RoleScope {
  /** Aborted on the first SIGINT/SIGTERM: a start step given it stops early, cleaning up after itself. */
  readonly signal: AbortSignal;
  /** Registers the stop of something that has started; stops run newest first. */
  defer(what: string, stop: Stopper): void;
}

/**
 * Runs a role: installs the SIGINT/SIGTERM handlers first, then `start`. On the first
 * signal, while starting or after, the scope's signal is aborted, what `start` has
 * registered is stopped (newest first) and the process exits 0; a second signal exits at
 * once (130). When `start` fails on its own, what it registered is stopped too and the
 * error is thrown on: a role that cannot start leaves no child process behind.
 */
export async function runRole(log: Logger, start: (scope: RoleScope) => Promise<void>): Promise<void> {
  const stack = new StopStack();
  const controller = new AbortController();
  let signalled: string | undefined;
  let started = false;
  const stopAndExit = async (code: number) => {
    await stack.unwind((err, what) => log.warn({ err, what }, 'error while stopping'));
    log.flush?.();
    process.exit(code);
  };
  const onSignal = (signal: string) => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signalled = signal;
    log.info({ signal }, 'stopping');
    controller.abort(new Error(`stopped by ${signal}`));
    // While starting, the start's own failure path stops what it registered (below).
    if (started) void stopAndExit(0);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  try {
    await start({ signal: controller.signal, defer: (what, stop) => stack.push(what, stop) });
  } catch (err) {
    if (signalled) return stopAndExit(0);
    await stack.unwind((e, what) => log.warn({ err: e, what }, 'error while stopping after a failed start'));
    throw err;
  }
  started = true;
  if (signalled) await stopAndExit(0);
}

export function roleLogger(role: string, config: FlintConfig): Logger {
  return createLogger(role, config.logLevel);
}
