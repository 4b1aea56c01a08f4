/**
 * The agent's export targets at start and stop: `createTargets` with this host's settings
 * (`<dataDir>/agent/<host>/targets`, FLINT_ISCSI_PORT, FLINT_NBD_PORTS, FLINT_AGENT_ADDRESS),
 * each set up; a target whose setup fails (e.g. no tgtd on the machine) is kept as
 * unavailable with its reason, so the agent still serves volumes and an export of that
 * kind fails with the reason.
 */
import { join } from 'node:path';
import { token } from '../bus/index.js';
import type { FlintConfig, Logger } from '../config/index.js';
import type { SecretBox } from '../domain/secret-box.js';
import { AttachmentHandler } from './attachments.js';
import type { AgentPool } from './heartbeat.js';
import { createTargets, type Target, type TargetKind } from './targets/index.js';

export interface AgentTargets {
  handler: AttachmentHandler;
  /** Stops what the targets started (tgtd, qemu-nbd); never throws. */
  shutdown(): Promise<void>;
}

/** @param secrets Opens the sealed CHAP passwords of export commands. */
export async function startTargets(config: FlintConfig, pools: readonly AgentPool[], log: Logger, secrets: SecretBox): Promise<AgentTargets> {
  const host = config.agentHost;
  const all = createTargets({
    host,
    address: config.agentAddress,
    stateDir: join(config.dataDir, 'agent', token(host), 'targets'),
    iscsiPort: config.iscsiPort,
    nbdPortRange: [config.nbdPorts[0], config.nbdPorts[1]],
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
  const handler = new AttachmentHandler({ host, drivers: new Map(pools.map((p) => [p.config.name, p.driver])), targets, log, secrets });
  return {
    handler,
    shutdown: async () => {
      for (const t of ready) {
        await t.shutdown().catch((err: unknown) => log.warn({ err, kind: t.kind }, 'export target did not shut down cleanly'));
      }
    },
  };
}
