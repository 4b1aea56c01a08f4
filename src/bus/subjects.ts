/** Every NATS name Flint uses, in one place (ARCHITECTURE.md, "NATS"). */
export const STREAM_CMD = 'FLINT_CMD';
export const STREAM_EVT = 'FLINT_EVT';
export const KV_POOLS = 'flint-pools';
export const KV_SERVICES = 'flint-services';

export const SCHEDULER_DURABLE = 'scheduler';
export const RECORDER_DURABLE = 'recorder';
/** Core-NATS request-reply (not JetStream): agents ask, one gateway of the queue group answers from the DB. */
export const RECONCILE_SUBJECT = 'flint.rpc.reconcile';
export const GATEWAY_QUEUE = 'flint-gateways';
/** Core-NATS request-reply to one agent: the manageable images of one of its pools (`Query.manageableVolumes`). */
export const manageableSubject = (host: string): string => `flint.rpc.agent.${token(host)}.manageable`;

export const subjects = {
  cmdAll: 'flint.cmd.>',
  evtAll: 'flint.evt.>',
  liveAll: 'flint.live.>',
  scheduler: (command: string) => `flint.cmd.scheduler.${command}`,
  schedulerAll: 'flint.cmd.scheduler.>',
  agent: (host: string, command: string) => `flint.cmd.agent.${token(host)}.${command}`,
  agentAll: (host: string) => `flint.cmd.agent.${token(host)}.>`,
  volumeEvent: (volumeId: string) => `flint.evt.volume.${volumeId}`,
  snapshotEvent: (snapshotId: string) => `flint.evt.snapshot.${snapshotId}`,
  attachmentEvent: (attachmentId: string) => `flint.evt.attachment.${attachmentId}`,
  liveAttachment: (projectId: string, attachmentId: string) => `flint.live.${projectId}.attachment.${attachmentId}`,
  liveSnapshot: (projectId: string, snapshotId: string) => `flint.live.${projectId}.snapshot.${snapshotId}`,
  liveVolume: (projectId: string, volumeId: string) => `flint.live.${projectId}.volume.${volumeId}`,
  liveOperation: (projectId: string, operationId: string) => `flint.live.${projectId}.operation.${operationId}`,
  liveMessage: (projectId: string, messageId: string) => `flint.live.${projectId}.message.${messageId}`,
  backupEvent: (backupId: string) => `flint.evt.backup.${backupId}`,
  liveBackup: (projectId: string, backupId: string) => `flint.live.${projectId}.backup.${backupId}`,
  /** Core NATS, every gateway listens: an API token was revoked (src/bus/token-revocation.ts). */
  tokenRevoked: 'flint.gw.token.revoked',
} as const;

/** Durable consumer name of an agent: one per storage host. */
export function agentDurable(host: string): string {
  return `agent-${token(host)}`;
}

/**
 * Host names become subject tokens and KV keys: keep letters, digits, `-` and `_`
 * and replace anything else, so `node1.example.com` is `node1_example_com`.
 */
export function token(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** KV key of a pool's stats: `<host>.<pool>`. */
export function poolKey(host: string, pool: string): string {
  return `${token(host)}.${token(pool)}`;
}

/** KV key of a service's heartbeat: `<role>.<host>`. */
export function serviceKey(role: string, host: string): string {
  return `${token(role)}.${token(host)}`;
}

/** Id of a pool as users and the scheduler name it: `host@pool`, like Cinder's `host@backend#pool`. */
export function poolId(host: string, pool: string): string {
  return `${host}@${pool}`;
}
