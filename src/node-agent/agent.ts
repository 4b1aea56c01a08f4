/**
 * The agent role: the thin NATS adapter around `AgentCore`. It sets up the host's
 * drivers, heartbeats their pools, and consumes `flint.cmd.agent.<host>.>` with a
 * durable consumer, acking a command only once its outcome is published.
 */
import { join } from 'node:path';
import type { JsMsg } from '@nats-io/jetstream';
import type { z } from 'zod';
import { backendHostsOf, flintVersion, loadSecretBox, poolLocation, type FlintConfig, type Logger } from '../config/index.js';
import {
  agentDurable,
  encode,
  ContractError,
  decodeEnvelope,
  decodePayload,
  MESSAGES,
  publish,
  runConsumer,
  STREAM_CMD,
  subjects,
  token,
  type Bus,
  type MessageKind,
} from '../bus/index.js';
import { ProcessGroup, StopStack } from '../lifecycle/index.js';
import { agentMetrics, countAgentCommand, hop, inCommandScope, noteEmitted, operationIdOf, scopedLogger } from '../metrics/index.js';
import { AGENT_COMMANDS, AgentCore, type AgentCommand } from './agent-core.js';
import { createDriver, DriverError } from './drivers/index.js';
import { startAgentHeartbeat, type AgentPool } from './heartbeat.js';
import { FileOutcomeStore } from './outcome-store.js';
import { OutcomeOutbox } from './outcome-outbox.js';
import { startReconciliation } from './reconcile.js';
import { MigrationAgent } from './migration.js';
import { startTargets, type AgentTargets } from './attachment-targets.js';
import { openBackupEngine } from './backup-setup.js';
import { startManageableResponder } from './manage-commands.js';

/** Commands handled at once (different volumes; one volume's commands are serialised). @default 8 */
export const DEFAULT_AGENT_CONCURRENCY = 8;

export interface AgentOptions {
  /** Reported in the service heartbeat. @default the version in Flint's package.json */
  version?: string;
  /** @default DEFAULT_AGENT_CONCURRENCY */
  concurrency?: number;
  /**
   * Cancels the start: what has started so far is stopped (daemons whose start is in flight
   * included) and `startAgent` rejects with the signal's reason once all of it is down.
   */
  signal?: AbortSignal;
  /**
   * Opens the NATS connection of backend host `host` (a pool's backendHost): the same
   * credentials, with that host's reply inbox, so the backend's RPCs (start-up reconciliation)
   * are answered to it. Absent: the backend's parts share the agent's connection.
   */
  backendBus?: (host: string) => Promise<Bus>;
}

export interface RunningAgent {
  readonly host: string;
  /**
   * Stops consuming, waits for the commands in flight, stops the heartbeats and the export
   * targets; resolves once every process the agent started (tgtd, qemu-nbd,
   * qemu-storage-daemon) has exited. Deletes nothing.
   */
  stop(): Promise<void>;
}

/** Whether `command` (the last token of a command's subject) is one this agent handles. */
function isAgentCommand(command: string): command is AgentCommand {
  return (AGENT_COMMANDS as readonly string[]).includes(command);
}

/** The registry's entry of agent command `command` (the kind `agent.<command>`); every `AgentCommand` has one. */
function commandSpec(command: AgentCommand): { kind: MessageKind; schema: z.ZodType } {
  const kind = `agent.${command}` as const;
  return { kind, schema: MESSAGES[kind].schema };
}

/**
 * Starts the agent of `config.agentHost`.
 *
 * Every part that starts registers its stop on a stack, and every daemon goes into one
 * process group: `stop()` (or an abort of `options.signal`, or a failing step) unwinds the
 * stack newest first and then closes the group, which stops any daemon a step still in
 * flight has spawned and refuses new ones. So nothing the agent started outlives it.
 * @throws DriverError when a pool cannot be set up (the agent refuses to start half-configured).
 */
export async function startAgent(config: FlintConfig, bus: Bus, log: Logger, options: AgentOptions = {}): Promise<RunningAgent> {
  const host = config.agentHost;
  const { signal } = options;
  signal?.throwIfAborted();
  // Missing or bad key: a ConfigError before anything starts (src/config/secret-key.ts).
  const secrets = loadSecretBox(config);
  agentMetrics();
  const processes = new ProcessGroup(`agent ${host}`);
  const stack = new StopStack();
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await stack.unwind(
        (err, what) => log.warn({ err, part: what }, 'agent: a part did not stop cleanly'),
        (what) => log.debug({ part: what }, 'agent: stopping'),
      );
      await processes.close();
    })());
  // An abort ends the daemons at once, so a step waiting on one (a tgtd start, an export) fails fast.
  const onAbort = () => void processes.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await startParts(config, bus, log, options, { host, secrets, processes, stack });
  } catch (err) {
    await stopAll();
    throw signal?.aborted ? signal.reason : err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  log.info({ host, pools: config.pools.map((p) => p.name), backends: backendHostsOf(config.pools) }, 'agent started');
  return {
    host,
    stop: () =>
      stopAll().then(() => {
        log.info({ host }, 'agent stopped');
      }),
  };
}

interface StartScope {
  host: string;
  secrets: ReturnType<typeof loadSecretBox>;
  processes: ProcessGroup;
  stack: StopStack;
}

/** The agent's parts in start order; each registers its stop on `scope.stack` once started. */
async function startParts(config: FlintConfig, bus: Bus, log: Logger, options: AgentOptions, scope: StartScope): Promise<void> {
  const { host, secrets, processes, stack } = scope;
  const checkpoint = () => options.signal?.throwIfAborted();
  const pools: AgentPool[] = [];
  for (const pool of config.pools) {
    const driver = createDriver(pool, { secrets });
    try {
      await driver.setup();
    } catch (err) {
      throw new DriverError(`agent ${host} cannot start: pool ${pool.name} failed its setup: ${(err as Error).message}`, { cause: err });
    }
    pools.push({ config: pool, driver });
    log.info({ pool: pool.name, driver: driver.name, location: poolLocation(pool), ...(pool.backendHost ? { backendHost: pool.backendHost } : {}) }, 'pool ready');
    checkpoint();
  }
  const identities = identitiesOf(host, pools);
  const backends = identities.filter((i) => i.host !== host).map((i) => i.host);

  await outcomesPrune(config, identities, log);
  checkpoint();
  // Export targets (iSCSI, NBD) for attachments: src/node-agent/attachment-targets.ts. An export
  // lives on this host, so they serve every pool, a backend's shared pools included.
  const targets = await startTargets(config, pools, log, secrets, processes);
  stack.push('export targets', () => targets.shutdown());
  checkpoint();
  const backup = await openBackupEngine(config, bus, log, processes);
  stack.push('backup repository', () => backup.close());
  checkpoint();

  const consumers: Array<() => Promise<void>> = [];
  for (const identity of identities) {
    const own = identity.host === host;
    let idBus = bus;
    if (!own && options.backendBus) {
      idBus = await options.backendBus(identity.host);
      stack.push(`NATS connection (backend ${identity.host})`, () => idBus.close());
    }
    const start = await startIdentity(config, idBus, log, options, scope, {
      host: identity.host,
      pools: identity.pools,
      targets,
      backup,
      // Attachments live on concrete hosts: only this host's own identity has exports to re-create.
      exports: own,
      backends: own ? backends : [],
    });
    consumers.push(start);
    if (!own) log.info({ backendHost: identity.host, pools: identity.pools.map((p) => p.config.name) }, 'serving a backend host');
    checkpoint();
  }
  // Consuming starts last, once every identity is ready.
  for (const start of consumers) {
    await start();
    checkpoint();
  }
}

/** One host identity the agent runs: its own host, or a backend host it shares with other agents. */
export interface AgentIdentity {
  host: string;
  /** The pools whose volume commands come to this identity. */
  pools: AgentPool[];
}

/**
 * The identities of agent `host` over `pools`: its own (the pools without a backendHost; present
 * even with none, for exports and backups) and one per distinct backendHost. Pure.
 */
export function identitiesOf(host: string, pools: readonly AgentPool[]): AgentIdentity[] {
  const own: AgentIdentity = { host, pools: pools.filter((p) => p.config.backendHost === undefined) };
  const byBackend = new Map<string, AgentPool[]>();
  for (const p of pools) {
    const b = p.config.backendHost;
    if (b !== undefined) byBackend.set(b, [...(byBackend.get(b) ?? []), p]);
  }
  return [own, ...[...byBackend.keys()].sort().map((b) => ({ host: b, pools: byBackend.get(b)! }))];
}

async function outcomesPrune(config: FlintConfig, identities: readonly AgentIdentity[], log: Logger): Promise<void> {
  for (const i of identities) {
    await new FileOutcomeStore(outcomeDir(config, i.host)).prune().catch((err: unknown) => log.warn({ err, host: i.host }, 'could not prune old operation records'));
  }
}

function outcomeDir(config: FlintConfig, host: string): string {
  return join(config.dataDir, 'agent', token(host), 'operations');
}

interface IdentityParts {
  host: string;
  pools: AgentPool[];
  targets: AgentTargets;
  backup: Awaited<ReturnType<typeof openBackupEngine>>;
  /** Whether this identity re-creates its attachments' exports at start (the agent's own host). */
  exports: boolean;
  /** Backend hosts named in the service heartbeat (the agent's own identity). */
  backends: readonly string[];
}

/**
 * Starts the parts of one host identity but its command consumer: migration exports, the core,
 * heartbeats, start-up reconciliation and the manageable responder. Returns the start of the
 * command consumer (on `agentDurable(host)`, shared with the other agents of a backend host).
 */
async function startIdentity(config: FlintConfig, bus: Bus, log: Logger, options: AgentOptions, scope: StartScope, parts: IdentityParts): Promise<() => Promise<void>> {
  const { processes, stack } = scope;
  const { host, pools, targets, backup } = parts;
  const label = host === scope.host ? '' : ` (backend ${host})`;
  const drivers = new Map(pools.map((p) => [p.config.name, p.driver]));
  const outcomes = new FileOutcomeStore(outcomeDir(config, host));
  const migration = new MigrationAgent({
    host,
    address: config.agentAddress,
    drivers,
    stateDir: join(config.dataDir, 'agent', token(host), 'migrations'),
    log: scopedLogger(log),
    report: (subject, kind, payload) => bus.nc.publish(subject, encode(kind, payload)),
    processes,
  });
  stack.push(`migration exports${label}`, () => migration.stopAll());
  // qemu-nbd exports a previous run left behind (src/node-agent/migration.ts).
  await migration.reconcile().catch((err: unknown) => log.warn({ err, host }, 'could not check for migration exports left by a previous run'));
  // A message whose publish failed is tried again in the background, not only on its command's redelivery (outcome-outbox.ts).
  const outbox = new OutcomeOutbox((subject, kind, payload, msgId) => publish(bus, subject, kind, payload, msgId), log);
  stack.push(`outcome outbox${label}`, () => outbox.stop());
  const core = new AgentCore({
    attachments: targets.handler,
    host,
    availabilityZone: config.availabilityZone,
    drivers,
    maxAttempts: config.schedulerMaxAttempts,
    outcomes,
    emit: (subject, kind, payload, msgId) => {
      noteEmitted(kind, payload);
      return outbox.emit(subject, kind, payload, msgId);
    },
    // The core's log lines carry the request and operation of the command being handled.
    log: scopedLogger(log),
    migration,
    backup: {
      ...backup,
      // Progress goes on core NATS: lossy by design, never stored (src/bus/contract/backup-messages.ts).
      report: (subject, kind, payload) => bus.nc.publish(subject, encode(kind, payload)),
    },
  });
  stack.push(`backups in flight${label}`, () => core.backups.stop());

  const heartbeat = await startAgentHeartbeat(bus, {
    host,
    zone: config.availabilityZone,
    intervalSeconds: config.heartbeatSeconds,
    version: options.version ?? flintVersion(),
    pools,
    log,
    backupRepository: { spec: backup.repository, id: backup.repositoryId },
    backends: parts.backends,
  });
  stack.push(`heartbeats${label}`, () => heartbeat.stop());

  // Before consuming commands: compare the DB's view of this host with the disk (src/node-agent/reconcile.ts).
  const reconciliation = await startReconciliation(bus, host, pools, log, {
    ...(parts.exports ? { onAttachments: (wanted: Parameters<typeof targets.handler.reconcileExports>[0]) => targets.handler.reconcileExports(wanted) } : {}),
    onBackups: (b) => core.backups.recoverLost(b),
  });
  stack.push(`start-up reconciliation${label}`, () => reconciliation.stop());
  const manageable = startManageableResponder(bus, { host, drivers, log });
  stack.push(`manageable responder${label}`, () => manageable.stop());
  return async () => {
    const runner = await runConsumer(
      bus,
      {
        stream: STREAM_CMD,
        durable: agentDurable(host),
        filterSubject: subjects.agentAll(host),
        concurrency: options.concurrency ?? DEFAULT_AGENT_CONCURRENCY,
        onError: (err, msg) => {
          const fields = { err, subject: msg.subject, deliveries: msg.info.deliveryCount };
          if (err instanceof ContractError) log.error(fields, 'command dropped: it does not match the message contract');
          else log.warn(fields, 'command failed; it will be redelivered');
        },
        onResubscribe: (err) => log.warn({ err, host }, 'command subscription lost; subscribing again'),
      },
      (msg) => handleMessage(core, msg, log),
    );
    // Consuming stops first: the commands in flight finish before the parts they use stop.
    stack.push(`command consumer${label}`, () => runner.stop());
  };
}

async function handleMessage(core: AgentCore, msg: JsMsg, log: Logger): Promise<'ack'> {
  const started = performance.now();
  // How long the command waited in the stream before this agent took it.
  const queuedMs = Math.max(0, Date.now() - Math.round(msg.info.timestampNanos / 1e6));
  const command = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
  if (!isAgentCommand(command)) throw new ContractError(`${msg.subject}: "${command}" is not an agent command (known: ${AGENT_COMMANDS.join(', ')})`);
  const spec = commandSpec(command);
  const env = decodeEnvelope(msg.data);
  return inCommandScope(log, { requestId: env.requestId, operationId: operationIdOf(env.payload) }, async ({ log, emitted }) => {
    try {
      if (env.kind !== spec.kind) throw new ContractError(`${msg.subject}: expected a ${spec.kind} message, got ${env.kind}`);
      const payload = decodePayload(env, spec.schema);
      hop(log, 'agent.received');
      await core.handle(command, payload as never);
      hop(log, 'agent.done');
      log.debug({ command, queuedMs, ms: Math.round(performance.now() - started) }, 'command handled');
      return 'ack' as const;
    } finally {
      countAgentCommand(command, emitted, (performance.now() - started) / 1000);
    }
  });
}

