/**
 * What every role's entry point shares: reading the configuration (exit 2 on a bad
 * one), opening the database and NATS, and stopping in order on SIGINT/SIGTERM.
 */
import { connectBus, type Bus } from '../bus/index.js';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ConfigError, createLogger, ensurePrivateDir, loadConfig, type FlintConfig, type Logger } from '../config/index.js';
import { logPermissionNote, openDb, type Db } from '../db/index.js';

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
  c.natsUrl ? [] : [`FLINT_NATS_URL: required for \`flint ${role}\` (e.g. nats://127.0.0.1:4222); only \`flint dev\` starts its own nats-server`];

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

export async function openBus(config: FlintConfig, name: string): Promise<Bus> {
  return connectBus(config.natsUrl!, name);
}

type Stopper = () => Promise<void>;

/** Runs `stoppers` in order on the first SIGINT/SIGTERM, then exits; a second signal exits at once. */
export function stopOnSignal(log: Logger, stoppers: Stopper[]): void {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    for (const stop of stoppers) {
      try {
        await stop();
      } catch (err) {
        log.warn({ err }, 'error while stopping');
      }
    }
    log.flush?.();
    process.exit(0);
  };
  process.on('SIGINT', () => void onSignal('SIGINT'));
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
}

export function roleLogger(role: string, config: FlintConfig): Logger {
  return createLogger(role, config.logLevel);
}
