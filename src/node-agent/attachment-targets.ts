/**
 * The agent's export targets at start and stop: `createTargets` with this host's settings
 * (`<dataDir>/agent/<host>/targets`, FLINT_ISCSI_PORT, FLINT_NBD_PORTS, FLINT_AGENT_ADDRESS,
 * FLINT_NBD_TLS_DIR: checked first, a bad one stops the agent),
 * each set up; a target whose setup fails (e.g. no tgtd on the machine) is kept as
 * unavailable with its reason, so the agent still serves volumes and an export of that
 * kind fails with the reason.
 */
import { join } from 'node:path';
import { token } from '../bus/index.js';
import { poolTargetsOf, type FlintConfig, type Logger } from '../config/index.js';
import type { SecretBox } from '../domain/secret-box.js';
import type { ProcessGroup } from '../lifecycle/index.js';
import { AttachmentHandler } from './attachments.js';
import type { AgentPool } from './heartbeat.js';
import { createTargets, loadNbdTls, type Target, type TargetKind } from './targets/index.js';

export interface AgentTargets {
  handler: AttachmentHandler;
  /** Stops what the targets started (tgtd, qemu-nbd); never throws. */
  shutdown(): Promise<void>;
}

/**
 * @param secrets Opens the sealed CHAP passwords of export commands.
 * @param processes Owns tgtd and the export daemons (the agent's group).
 */
export async function startTargets(config: FlintConfig, pools: readonly AgentPool[], log: Logger, secrets: SecretBox, processes: ProcessGroup): Promise<AgentTargets> {
  const host = config.agentHost;
  // A TLS directory that cannot serve stops the agent here: it must not fall back to plain NBD.
  const nbdTls = config.nbdTls ? await loadNbdTls(config.nbdTls, config.agentAddress) : undefined;
  for (const warning of nbdTls?.warnings ?? []) log.warn({ dir: nbdTls!.dir }, warning);
  if (nbdTls) log.info({ dir: nbdTls.dir, verifyClients: nbdTls.verifyClients }, 'NBD exports require TLS');
  const all = createTargets({
    host,
    address: config.agentAddress,
    stateDir: join(config.dataDir, 'agent', token(host), 'targets'),
    iscsiPort: config.iscsiPort,
    nbdPortRange: [config.nbdPorts[0], config.nbdPorts[1]],
    ...(nbdTls ? { nbdTls } : {}),
    processes,
  });
  const targets = new Map<TargetKind, Target | { unavailable: string }>();
  const ready: Target[] = [];
  for (const [kind, t] of all) {
    try {
      await t.setup();
      targets.set(kind, t);
      ready.push(t);
      log.info({ kind }, 'export target ready');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      targets.set(kind, { unavailable: reason });
      log.error({ err, kind }, 'export target unavailable: attachments of this kind will fail on this host');
    }
  }
  const handler = new AttachmentHandler({
    host,
    drivers: new Map(pools.map((p) => [p.config.name, p.driver])),
    targets,
    poolTargets: new Map(pools.map((p) => [p.config.name, poolTargetsOf(p.config).targets])),
    log,
    secrets,
  });
  return {
    handler,
    shutdown: async () => {
      for (const t of ready) {
        await t.shutdown().catch((err: unknown) => log.warn({ err, kind: t.kind }, 'export target did not shut down cleanly'));
      }
    },
  };
}
