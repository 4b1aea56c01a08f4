/**
 * One validated, frozen configuration object. Only entry points (src/cli) read the
 * environment; everything else receives a `FlintConfig`.
 *
 * Sources, later ones win: defaults < JSON file (`FLINT_CONFIG_FILE`) < environment.
 * Every problem is collected and reported at once as a `ConfigError`. Pools are parsed in
 * pool-config.ts, the listen address, database URL and weigher list in setting-parsers.ts.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { API_LIMITS_ENV, apiLimitsFileFields, parseApiLimits, type ApiLimitsConfig } from './api-limits.js';
import { NATS_AUTH_ENV, parseNatsAuth, type NatsAuthConfig } from './nats-auth.js';
import { parsePools, type PoolConfig } from './pool-config.js';
import { parseQuotaDefaults, QUOTA_ENV } from './quota-defaults.js';
import type { QuotaLimits } from '../domain/quotas.js';
import { parseDatabase, parseListen, parseWeighers, type DatabaseConfig } from './setting-parsers.js';

/** @default './.flint' */
export const DEFAULT_DATA_DIR = './.flint';
/** @default '127.0.0.1:4000' */
export const DEFAULT_LISTEN = '127.0.0.1:4000';
/** Cinder's default availability zone. */
export const DEFAULT_AVAILABILITY_ZONE = 'nova';
export const DEFAULT_HEARTBEAT_SECONDS = 5;
/** Tries of a create on different pools before the volume goes to ERROR (Cinder's `scheduler_max_attempts`). */
export const DEFAULT_SCHEDULER_MAX_ATTEMPTS = 3;
/** Seconds an operation may stay PENDING/RUNNING before the gateway's deadline sweeper fails it. */
export const DEFAULT_OPERATION_TIMEOUT_SECONDS = 900;
/** Seconds a volume transfer may wait to be accepted before it expires and the volume is AVAILABLE again. */
export const DEFAULT_TRANSFER_EXPIRY_SECONDS = 86_400;
/** Seconds a create's `idempotencyKey` answers with what it made, and a change's with its operation; after that the key is free again. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;
/** Seconds the change feed keeps an event: a subscription's `sinceSeq` older than that must list again (RESYNC_REQUIRED). */
export const DEFAULT_CHANGE_RETENTION_SECONDS = 86_400;

export interface FlintConfig {
  readonly dataDir: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** `null` in dev mode until it starts its own nats-server. */
  readonly natsUrl: string | null;
  /** How this role authenticates to NATS (src/config/nats-auth.ts). */
  readonly natsAuth: NatsAuthConfig;
  /** Replicas of the streams and buckets a gateway makes (3 on a 3-node NATS cluster). @default 1 */
  readonly natsReplicas: number;
  readonly database: DatabaseConfig;
  readonly agentHost: string;
  /** Address consumers and other agents use to reach this agent's exports (iSCSI portal, NBD, migration). @default 127.0.0.1 */
  readonly agentAddress: string;
  readonly availabilityZone: string;
  readonly pools: readonly PoolConfig[];
  readonly heartbeatSeconds: number;
  readonly schedulerMaxAttempts: number;
  /** Seconds before an operation still PENDING/RUNNING is failed (SERVICE_UNAVAILABLE). @default 900 */
  readonly operationTimeoutSeconds: number;
  /** Weighers the scheduler applies, with multipliers; empty means Cinder's default (CapacityWeigher, 1.0). */
  readonly schedulerWeighers: ReadonlyArray<{ readonly name: string; readonly multiplier: number | undefined }>;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Whether the gateway answers introspection (`__schema`, `__type`) to callers with a token. @default true */
  readonly introspection: boolean;
  /** Where the agent keeps backups: `dir:/path` or `nats:<bucket>`. @default `dir:$FLINT_DATA_DIR/backups` */
  readonly backupRepository: string;
  /** Backup chunk size in MiB (a power of two, 1 to 32). @default 4 */
  readonly backupChunkMiB: number;
  /** Where a scheduler or agent serves `/metrics`, `/healthz`, `/readyz`; absent (the default): not served. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** TCP port of the agent's iSCSI portal (its own tgtd). @default 3260 */
  readonly iscsiPort: number;
  /** Inclusive TCP port range of the agent's per-export NBD servers. @default [10809, 10899] */
  readonly nbdPorts: readonly [number, number];
  /**
   * NBD attachment exports over TLS (qemu-nbd `--tls-creds`): absent (the default) serves plain NBD.
   * `dir` is in qemu's x509 layout (ca-cert.pem, server-cert.pem, server-key.pem); the agent checks it at start.
   */
  readonly nbdTls?: { readonly dir: string; readonly verifyClients: boolean };
  /** File with the 32-byte key sealing CHAP secrets (src/config/secret-key.ts). @default `$FLINT_DATA_DIR/secret.key` */
  readonly secretKeyFile: string;
  /** True when the key file is the default one, which a first start creates; a named one must exist. */
  readonly secretKeyFileIsDefault: boolean;
  /**
   * File holding the bearer token `/metrics` then requires (src/metrics/metrics-token.ts), on the
   * gateway and on FLINT_METRICS_LISTEN. @default absent: `/metrics` needs no token
   */
  readonly metricsTokenFile?: string;
  /** What one operation, token, address and WebSocket may ask of a gateway (src/config/api-limits.ts). */
  readonly apiLimits: ApiLimitsConfig;
  /** Seconds a volume transfer waits to be accepted before it expires. @default 86400 */
  readonly transferExpirySeconds: number;
  /** Seconds after a create (a change: its operation) during which its `idempotencyKey` replays it; an older key is free again. @default 86400 */
  readonly idempotencyTtlSeconds: number;
  /** Seconds the change feed keeps an event for subscriptions' `sinceSeq` replays (src/gateway/sweepers/change-retention.ts). @default 86400 */
  readonly changeRetentionSeconds: number;
  /** Quota limits of projects without limits of their own (src/config/quota-defaults.ts). @default Cinder's */
  readonly quotaDefaults: QuotaLimits;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The environment variables Flint reads, for the README and for error messages. */
export const ENV = {
  FLINT_CONFIG_FILE: 'JSON file with any of the settings below (camelCase keys)',
  FLINT_DATA_DIR: `data directory (default ${DEFAULT_DATA_DIR})`,
  FLINT_LISTEN: `gateway address host:port (default ${DEFAULT_LISTEN})`,
  FLINT_NATS_URL: 'NATS server URL; dev mode starts its own nats-server when unset',
  ...NATS_AUTH_ENV,
  FLINT_NATS_REPLICAS: 'replicas of the JetStream streams, buckets and backup object store Flint makes: 1 on a single nats-server, 3 on a 3-node cluster (at most the cluster size, at most 5); a gateway raises or lowers the replicas of existing streams to match (default 1)',
  FLINT_DATABASE_URL: 'sqlite:PATH or postgres://USER@HOST:PORT/DB (default sqlite in the data dir)',
  FLINT_AGENT_HOST: 'name of this storage host (default the hostname)',
  FLINT_AGENT_ADDRESS: 'IP address or DNS name where consumers and other agents reach this agent\'s exports (iSCSI portal, NBD, migration; default 127.0.0.1)',
  FLINT_AVAILABILITY_ZONE: `availability zone of this agent (default ${DEFAULT_AVAILABILITY_ZONE})`,
  FLINT_POOLS: 'JSON array of the agent\'s pools: [{"name","driver","directory","imageFormat","capabilities","maxOverSubscriptionRatio","reservedPercentage","thinProvisioning","capacityGiB","targets","defaultTarget","copyMiBps"}]',
  FLINT_HEARTBEAT_SECONDS: `seconds between heartbeats (default ${DEFAULT_HEARTBEAT_SECONDS})`,
  FLINT_SCHEDULER_MAX_ATTEMPTS: `pools tried per create (default ${DEFAULT_SCHEDULER_MAX_ATTEMPTS})`,
  FLINT_TRANSFER_EXPIRY_SECONDS: `seconds a volume transfer waits to be accepted before it expires and the volume is AVAILABLE again in its project (default ${DEFAULT_TRANSFER_EXPIRY_SECONDS}, one day)`,
  FLINT_CHANGE_RETENTION_SECONDS: `seconds the change feed keeps an event, so a subscription with sinceSeq can replay what it missed; an older sinceSeq is RESYNC_REQUIRED (default ${DEFAULT_CHANGE_RETENTION_SECONDS}, one day)`,
  FLINT_IDEMPOTENCY_TTL_SECONDS: `seconds after a create (or a change: update, extend, retype, migrate) during which the same idempotencyKey answers with what it made (its operation); an older key is free again (default ${DEFAULT_IDEMPOTENCY_TTL_SECONDS}, one day)`,
  FLINT_OPERATION_TIMEOUT_SECONDS: `seconds an operation may stay pending or running before the gateway fails it with SERVICE_UNAVAILABLE and moves its resource to an error state (default ${DEFAULT_OPERATION_TIMEOUT_SECONDS})`,
  FLINT_SCHEDULER_WEIGHERS: 'comma-separated weighers with optional multipliers, e.g. CapacityWeigher:1,VolumeNumberWeigher:-1 (default CapacityWeigher)',
  FLINT_LOG_LEVEL: 'fatal|error|warn|info|debug|trace|silent (default info)',
  FLINT_INTROSPECTION: 'true|false: whether the gateway answers schema introspection, for callers with a token only (default true; false also leaves GraphiQL without docs)',
  FLINT_ISCSI_PORT: 'TCP port of the agent\'s iSCSI portal, served by the tgtd the agent starts (default 3260)',
  FLINT_NBD_PORTS: 'FIRST-LAST: TCP ports of the agent\'s per-attachment NBD servers (default 10809-10899)',
  FLINT_BACKUP_REPOSITORY: 'where the agent keeps backups: dir:/path (a local directory or a mounted share) or nats:<bucket> (the NATS JetStream object store, over the agent\'s NATS connection); default dir:$FLINT_DATA_DIR/backups',
  FLINT_BACKUP_CHUNK_MIB: 'backup chunk size in MiB, a power of two from 1 to 32 (default 4)',
  FLINT_NBD_TLS_DIR: 'directory in qemu\'s x509 layout (ca-cert.pem, server-cert.pem naming FLINT_AGENT_ADDRESS, server-key.pem): every NBD attachment export then requires TLS and refuses plain clients (default unset: plain NBD)',
  FLINT_NBD_TLS_VERIFY_CLIENTS: 'true|false: with FLINT_NBD_TLS_DIR, NBD clients must also present a certificate signed by its ca-cert.pem (qemu verify-peer; default false)',
  FLINT_SECRET_KEY_FILE: 'file holding the 32-byte key (raw, or base64 on one line) that seals CHAP secrets in the database and on NATS; gateways and agents must all use the same key; default $FLINT_DATA_DIR/secret.key, created (mode 0600) on first start when missing, while a named file must exist',
  FLINT_METRICS_TOKEN_FILE: 'file holding a token (at least 16 characters) that GET /metrics then requires as "Authorization: Bearer <token>", on the gateway and on FLINT_METRICS_LISTEN (default unset: /metrics needs no token)',
  FLINT_METRICS_LISTEN: 'host:port where a scheduler or agent serves /metrics, /healthz and /readyz (default unset: off; the gateway serves them on FLINT_LISTEN)',
  ...API_LIMITS_ENV,
  ...QUOTA_ENV,
} as const;

const fileSchema = z
  .object({
    dataDir: z.string(),
    listen: z.string(),
    natsUrl: z.string(),
    natsNkeySeedFile: z.string(),
    natsTlsCa: z.string(),
    natsTlsCert: z.string(),
    natsTlsKey: z.string(),
    natsInsecure: z.boolean(),
    natsReplicas: z.number(),
    databaseUrl: z.string(),
    agentHost: z.string(),
    agentAddress: z.string(),
    availabilityZone: z.string(),
    pools: z.array(z.unknown()),
    heartbeatSeconds: z.number(),
    schedulerMaxAttempts: z.number(),
    operationTimeoutSeconds: z.number(),
    transferExpirySeconds: z.number(),
    idempotencyTtlSeconds: z.number(),
    changeRetentionSeconds: z.number(),
    schedulerWeighers: z.string(),
    logLevel: z.string(),
    introspection: z.boolean(),
    metricsListen: z.string(),
    iscsiPort: z.number(),
    nbdPorts: z.string(),
    backupRepository: z.string(),
    backupChunkMiB: z.number(),
    nbdTlsDir: z.string(),
    nbdTlsVerifyClients: z.boolean(),
    secretKeyFile: z.string(),
    metricsTokenFile: z.string(),
    quotaDefaults: z.union([z.string(), z.object({}).passthrough()]),
    ...apiLimitsFileFields,
  })
  .partial()
  .strict();

type Raw = z.infer<typeof fileSchema>;

/**
 * Builds the configuration from an environment (normally `process.env`).
 * @throws ConfigError listing every problem found.
 */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): FlintConfig {
  const problems: string[] = [];
  let raw: Raw = {};

  const file = env.FLINT_CONFIG_FILE;
  if (file) {
    try {
      const parsed = fileSchema.safeParse(JSON.parse(readFileSync(resolve(cwd, file), 'utf8')));
      if (parsed.success) raw = parsed.data;
      else problems.push(...parsed.error.issues.map((i) => `FLINT_CONFIG_FILE ${file}: ${i.path.join('.') || '(root)'}: ${i.message}`));
    } catch (err) {
      problems.push(`FLINT_CONFIG_FILE ${file}: ${(err as Error).message}`);
    }
  }

  const str = (key: keyof typeof ENV, fromFile: string | undefined): string | undefined => {
    const v = env[key];
    return v !== undefined && v !== '' ? v : fromFile;
  };
  const num = (key: keyof typeof ENV, fromFile: number | undefined, def: number, min: number, max: number): number => {
    const v = env[key];
    const n = v !== undefined && v !== '' ? Number(v) : (fromFile ?? def);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: must be an integer from ${min} to ${max}, got ${JSON.stringify(v !== undefined && v !== '' ? v : fromFile)}`);
      return def;
    }
    return n;
  };

  const dataDir = resolve(cwd, str('FLINT_DATA_DIR', raw.dataDir) ?? DEFAULT_DATA_DIR);

  const listenRaw = str('FLINT_LISTEN', raw.listen) ?? DEFAULT_LISTEN;
  const listen = parseListen(listenRaw);
  if (!listen) problems.push(`FLINT_LISTEN: expected host:port with a port from 0 to 65535, got "${listenRaw}"`);

  const natsUrl = str('FLINT_NATS_URL', raw.natsUrl) ?? null;
  if (natsUrl !== null && !/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(natsUrl)) {
    problems.push(`FLINT_NATS_URL: expected nats://host:port (comma-separated for a cluster), got "${natsUrl}"`);
  }

  const natsAuth = parseNatsAuth(env, raw, cwd, problems);
  const natsReplicas = num('FLINT_NATS_REPLICAS', raw.natsReplicas, 1, 1, 5);

  const dbRaw = str('FLINT_DATABASE_URL', raw.databaseUrl);
  const database = parseDatabase(dbRaw, dataDir, cwd);
  if (typeof database === 'string') problems.push(`FLINT_DATABASE_URL: ${database}`);

  const agentHost = str('FLINT_AGENT_HOST', raw.agentHost) ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(agentHost)) {
    problems.push(`FLINT_AGENT_HOST: letters, digits, ".", "-" and "_" only (at most 128), got "${agentHost}"`);
  }
  const agentAddress = str('FLINT_AGENT_ADDRESS', raw.agentAddress) ?? '127.0.0.1';
  if (!/^[A-Za-z0-9][A-Za-z0-9.:-]{0,252}$/.test(agentAddress)) {
    problems.push(`FLINT_AGENT_ADDRESS: an IP address or DNS name, got "${agentAddress}"`);
  }
  const availabilityZone = str('FLINT_AVAILABILITY_ZONE', raw.availabilityZone) ?? DEFAULT_AVAILABILITY_ZONE;
  if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(availabilityZone)) {
    problems.push(`FLINT_AVAILABILITY_ZONE: letters, digits, ".", ":", "-" and "_" only, got "${availabilityZone}"`);
  }

  let poolsRaw: unknown = raw.pools;
  const poolsEnv = env.FLINT_POOLS;
  if (poolsEnv) {
    try {
      poolsRaw = JSON.parse(poolsEnv);
    } catch (err) {
      problems.push(`FLINT_POOLS: not valid JSON (${(err as Error).message})`);
      poolsRaw = undefined;
    }
  }
  const pools = parsePools(poolsRaw ?? [{ name: 'default' }], dataDir, problems, agentHost);

  const heartbeatSeconds = num('FLINT_HEARTBEAT_SECONDS', raw.heartbeatSeconds, DEFAULT_HEARTBEAT_SECONDS, 1, 300);
  const schedulerMaxAttempts = num('FLINT_SCHEDULER_MAX_ATTEMPTS', raw.schedulerMaxAttempts, DEFAULT_SCHEDULER_MAX_ATTEMPTS, 1, 10);
  const operationTimeoutSeconds = num('FLINT_OPERATION_TIMEOUT_SECONDS', raw.operationTimeoutSeconds, DEFAULT_OPERATION_TIMEOUT_SECONDS, 1, 7 * 24 * 3600);
  const transferExpirySeconds = num('FLINT_TRANSFER_EXPIRY_SECONDS', raw.transferExpirySeconds, DEFAULT_TRANSFER_EXPIRY_SECONDS, 1, 365 * 24 * 3600);
  const changeRetentionSeconds = num('FLINT_CHANGE_RETENTION_SECONDS', raw.changeRetentionSeconds, DEFAULT_CHANGE_RETENTION_SECONDS, 60, 365 * 24 * 3600);
  const idempotencyTtlSeconds = num('FLINT_IDEMPOTENCY_TTL_SECONDS', raw.idempotencyTtlSeconds, DEFAULT_IDEMPOTENCY_TTL_SECONDS, 1, 365 * 24 * 3600);
  const schedulerWeighers = parseWeighers(str('FLINT_SCHEDULER_WEIGHERS', raw.schedulerWeighers) ?? '', problems);
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  const logLevelRaw = str('FLINT_LOG_LEVEL', raw.logLevel) ?? 'info';
  const logLevel = (levels as readonly string[]).includes(logLevelRaw) ? (logLevelRaw as FlintConfig['logLevel']) : undefined;
  if (!logLevel) problems.push(`FLINT_LOG_LEVEL: one of ${levels.join(', ')}, got "${logLevelRaw}"`);
  const introspectionRaw = env.FLINT_INTROSPECTION;
  const introspection = introspectionRaw === undefined || introspectionRaw === '' ? (raw.introspection ?? true) : introspectionRaw === 'true';
  if (introspectionRaw && introspectionRaw !== 'true' && introspectionRaw !== 'false') problems.push(`FLINT_INTROSPECTION: true or false, got "${introspectionRaw}"`);
  const metricsListenRaw = str('FLINT_METRICS_LISTEN', raw.metricsListen);
  const metricsListen = metricsListenRaw === undefined ? undefined : parseListen(metricsListenRaw);
  if (metricsListenRaw !== undefined && !metricsListen) problems.push(`FLINT_METRICS_LISTEN: expected host:port with a port from 0 to 65535, got "${metricsListenRaw}"`);

  const iscsiPort = num('FLINT_ISCSI_PORT', raw.iscsiPort, 3260, 1, 65535);
  const nbdPortsRaw = str('FLINT_NBD_PORTS', raw.nbdPorts) ?? '10809-10899';
  const nbdMatch = /^(\d{1,5})-(\d{1,5})$/.exec(nbdPortsRaw);
  const nbdPorts: [number, number] = nbdMatch ? [Number(nbdMatch[1]), Number(nbdMatch[2])] : [10809, 10899];
  if (!nbdMatch || nbdPorts[0] < 1 || nbdPorts[1] > 65535 || nbdPorts[0] > nbdPorts[1]) {
    problems.push(`FLINT_NBD_PORTS: expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535, e.g. 10809-10899, got "${nbdPortsRaw}"`);
  }
  const backupRepository = str('FLINT_BACKUP_REPOSITORY', raw.backupRepository) ?? `dir:${join(dataDir, 'backups')}`;
  if (!/^dir:.+$/.test(backupRepository) && !/^nats:[A-Za-z0-9_-]{1,64}$/.test(backupRepository)) {
    problems.push(`FLINT_BACKUP_REPOSITORY: dir:/path or nats:<bucket> (letters, digits, "-", "_"), got "${backupRepository}"`);
  }
  const nbdTlsDirRaw = str('FLINT_NBD_TLS_DIR', raw.nbdTlsDir);
  const nbdTlsVerifyRaw = env.FLINT_NBD_TLS_VERIFY_CLIENTS;
  if (nbdTlsVerifyRaw && nbdTlsVerifyRaw !== 'true' && nbdTlsVerifyRaw !== 'false') problems.push(`FLINT_NBD_TLS_VERIFY_CLIENTS: true or false, got "${nbdTlsVerifyRaw}"`);
  const nbdTlsVerifyClients = nbdTlsVerifyRaw === undefined || nbdTlsVerifyRaw === '' ? (raw.nbdTlsVerifyClients ?? false) : nbdTlsVerifyRaw === 'true';
  if (nbdTlsVerifyClients && nbdTlsDirRaw === undefined) problems.push('FLINT_NBD_TLS_VERIFY_CLIENTS: needs FLINT_NBD_TLS_DIR (client certificates are checked only over TLS)');
  const nbdTls = nbdTlsDirRaw === undefined ? undefined : { dir: resolve(cwd, nbdTlsDirRaw), verifyClients: nbdTlsVerifyClients };
  const backupChunkMiB = num('FLINT_BACKUP_CHUNK_MIB', raw.backupChunkMiB, 4, 1, 32);
  if ((backupChunkMiB & (backupChunkMiB - 1)) !== 0) problems.push(`FLINT_BACKUP_CHUNK_MIB: a power of two (1, 2, 4, 8, 16 or 32), got ${backupChunkMiB}`);

  const secretKeyRaw = str('FLINT_SECRET_KEY_FILE', raw.secretKeyFile);
  const secretKeyFile = secretKeyRaw === undefined ? join(dataDir, 'secret.key') : resolve(cwd, secretKeyRaw);

  const metricsTokenRaw = str('FLINT_METRICS_TOKEN_FILE', raw.metricsTokenFile);
  const metricsTokenFile = metricsTokenRaw === undefined ? undefined : resolve(cwd, metricsTokenRaw);
  const apiLimits = parseApiLimits(env, raw, problems);
  const quotaDefaults = parseQuotaDefaults(str('FLINT_QUOTA_DEFAULTS', undefined) ?? raw.quotaDefaults, cwd, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({
    dataDir,
    listen: listen!,
    natsUrl,
    natsAuth,
    natsReplicas,
    database: database as DatabaseConfig,
    agentHost,
    agentAddress,
    availabilityZone,
    pools,
    heartbeatSeconds,
    schedulerMaxAttempts,
    operationTimeoutSeconds,
    transferExpirySeconds,
    idempotencyTtlSeconds,
    changeRetentionSeconds,
    schedulerWeighers,
    logLevel: logLevel!,
    introspection,
    backupRepository,
    backupChunkMiB,
    ...(metricsListen ? { metricsListen } : {}),
    iscsiPort,
    nbdPorts,
    ...(nbdTls ? { nbdTls } : {}),
    secretKeyFile,
    secretKeyFileIsDefault: secretKeyRaw === undefined,
    ...(metricsTokenFile ? { metricsTokenFile } : {}),
    apiLimits,
    quotaDefaults,
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
