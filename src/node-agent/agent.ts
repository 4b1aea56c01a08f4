/**
 * The agent role: the thin NATS adapter around `AgentCore`. It sets up the host's
 * drivers, heartbeats their pools, and consumes `flint.cmd.agent.<host>.>` with a
 * durable consumer, acking a command only once its outcome is published.
 */
import { join } from 'node:path';
import type { JsMsg } from '@nats-io/jetstream';
import type { z } from 'zod';
import { flintVersion, loadSecretBox, poolLocation, type FlintConfig, type Logger } from '../config/index.js';
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
import { agentMetrics, countAgentCommand, inCommandScope, noteEmitted, operationIdOf, scopedLogger } from '../metrics/index.js';
import { AGENT_COMMANDS, AgentCore, type AgentCommand } from './agent-core.js';
import { createDriver, DriverError } from './drivers/index.js';
import { startAgentHeartbeat, type AgentPool } from './heartbeat.js';
import { FileOutcomeStore } from './outcome-store.js';
import { startReconciliation } from './reconcile.js';
import { MigrationAgent } from './migration.js';
import { startTargets } from './attachment-targets.js';
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
  log.info({ host, pools: config.pools.map((p) => p.name) }, 'agent started');
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
    log.info({ pool: pool.name, driver: driver.name, location: poolLocation(pool) }, 'pool ready');
    checkpoint();
  }

  const drivers = new Map(pools.map((p) => [p.config.name, p.driver]));
  const outcomes = new FileOutcomeStore(join(config.dataDir, 'agent', token(host), 'operations'));
  const migration = new MigrationAgent({
    host,
    address: config.agentAddress,
    drivers,
    stateDir: join(config.dataDir, 'agent', token(host), 'migrations'),
    log: scopedLogger(log),
    report: (subject, kind, payload) => bus.nc.publish(subject, encode(kind, payload)),
    processes,
  });
  stack.push('migration exports', () => migration.stopAll());
  // qemu-nbd exports a previous run left behind (src/node-agent/migration.ts).
  await migration.reconcile().catch((err: unknown) => log.warn({ err }, 'could not check for migration exports left by a previous run'));
  await outcomes.prune().catch((err: unknown) => log.warn({ err }, 'could not prune old operation records'));
  checkpoint();
  // Export targets (iSCSI, NBD) for attachments: src/node-agent/attachment-targets.ts.
  const targets = await startTargets(config, pools, log, secrets, processes);
  stack.push('export targets', () => targets.shutdown());
  checkpoint();
  const backup = await openBackupEngine(config, bus, log, processes);
  stack.push('backup repository', () => backup.close());
  checkpoint();
  const core = new AgentCore({
    attachments: targets.handler,
    host,
    availabilityZone: config.availabilityZone,
    drivers,
    maxAttempts: config.schedulerMaxAttempts,
    outcomes,
    emit: (subject, kind, payload, msgId) => {
      noteEmitted(kind, payload);
      return publish(bus, subject, kind, payload, msgId);
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
  stack.push('backups in flight', () => core.backups.stop());

  const heartbeat = await startAgentHeartbeat(bus, {
    host,
    zone: config.availabilityZone,
    intervalSeconds: config.heartbeatSeconds,
    version: options.version ?? flintVersion(),
    pools,
    log,
    backupRepository: { spec: backup.repository, id: backup.repositoryId },
  });
  stack.push('heartbeats', () => heartbeat.stop());
  checkpoint();

  // Before consuming commands: compare the DB's view of this host with the disk (src/node-agent/reconcile.ts).
  const reconciliation = await startReconciliation(bus, host, pools, log, {
    onAttachments: (wanted) => targets.handler.reconcileExports(wanted),
    onBackups: (b) => core.backups.recoverLost(b),
  });
  stack.push('start-up reconciliation', () => reconciliation.stop());
  checkpoint();
  const manageable = startManageableResponder(bus, { host, drivers, log });
  stack.push('manageable responder', () => manageable.stop());
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
      onResubscribe: (err) => log.warn({ err }, 'command subscription lost; subscribing again'),
    },
    (msg) => handleMessage(core, msg, log),
  );
  // Consuming stops first: the commands in flight finish before the parts they use stop.
  stack.push('command consumer', () => runner.stop());
  checkpoint();
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
      await core.handle(command, payload as never);
      log.debug({ command, queuedMs, ms: Math.round(performance.now() - started) }, 'command handled');
      return 'ack' as const;
    } finally {
      countAgentCommand(command, emitted, (performance.now() - started) / 1000);
    }
  });
}

