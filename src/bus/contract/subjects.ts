/**
 * Every NATS name Flint uses, in one place (ARCHITECTURE.md, "NATS"). The names are laid
 * out so that NATS itself can enforce who may send what (src/bus/nats/permissions.ts): whatever
 * an agent sends carries its host in a fixed position (`flint.evt.agent.<host>.…`,
 * `flint.progress.agent.<host>.…`, `flint.rpc.reconcile.<host>`, KV keys
 * `<host>.<pool>` and `agent.<host>`), and what a scheduler sends is under
 * `flint.evt.scheduler.…`. A receiver reads the sender from the subject, never from the payload.
 */
export const STREAM_CMD = 'FLINT_CMD';
export const STREAM_EVT = 'FLINT_EVT';
export const KV_POOLS = 'flint-pools';
export const KV_SERVICES = 'flint-services';

export const SCHEDULER_DURABLE = 'scheduler';
export const RECORDER_DURABLE = 'recorder';
/** Queue group of every gateway's RPC responders: exactly one gateway answers a request. */
export const GATEWAY_QUEUE = 'flint-gateways';

/** What an event or a progress report is about: the token after the sender in its subject. */
export type EventResource = 'volume' | 'snapshot' | 'attachment' | 'backup';
export type ProgressResource = 'backup' | 'migration';

export const subjects = {
  cmdAll: 'flint.cmd.>',
  evtAll: 'flint.evt.>',
  liveAll: 'flint.live.>',
  progressAll: 'flint.progress.>',
  /** Gateway to gateway (core NATS), e.g. `tokenRevoked`. */
  gatewayAll: 'flint.gw.>',
  scheduler: (command: string) => `flint.cmd.scheduler.${command}`,
  schedulerAll: 'flint.cmd.scheduler.>',
  agent: (host: string, command: string) => `flint.cmd.agent.${token(host)}.${command}`,
  agentAll: (host: string) => `flint.cmd.agent.${token(host)}.>`,
  agentCommandsAll: 'flint.cmd.agent.>',
  /** An agent's outcome about one resource (FLINT_EVT): only the agent of `host` may publish it. */
  agentEvent: (host: string, resource: EventResource, id: string) => `flint.evt.agent.${token(host)}.${resource}.${id}`,
  agentEventsOf: (host: string) => `flint.evt.agent.${token(host)}.>`,
  /** A scheduler's decision about a volume (FLINT_EVT): only schedulers may publish it. */
  schedulerEvent: (resource: EventResource, id: string) => `flint.evt.scheduler.${resource}.${id}`,
  schedulerEventsAll: 'flint.evt.scheduler.>',
  /** Progress of an agent's long work (core NATS, lossy): only the agent of `host` may publish it. */
  agentProgress: (host: string, what: ProgressResource, id: string) => `flint.progress.agent.${token(host)}.${what}.${id}`,
  agentProgressOf: (host: string) => `flint.progress.agent.${token(host)}.>`,
  /** Every agent's progress reports of one kind, for the gateways. */
  progressOf: (what: ProgressResource) => `flint.progress.agent.*.${what}.*`,
  liveAttachment: (projectId: string, attachmentId: string) => `flint.live.${projectId}.attachment.${attachmentId}`,
  liveSnapshot: (projectId: string, snapshotId: string) => `flint.live.${projectId}.snapshot.${snapshotId}`,
  liveVolume: (projectId: string, volumeId: string) => `flint.live.${projectId}.volume.${volumeId}`,
  liveOperation: (projectId: string, operationId: string) => `flint.live.${projectId}.operation.${operationId}`,
  liveMessage: (projectId: string, messageId: string) => `flint.live.${projectId}.message.${messageId}`,
  liveBackup: (projectId: string, backupId: string) => `flint.live.${projectId}.backup.${backupId}`,
  liveBackupsAll: 'flint.live.*.backup.*',
  /**
   * Core-NATS request-reply (not JetStream): the agent of `host` asks which volumes, exports and
   * backups the DB places on it; one gateway of the queue group answers, for that host only.
   */
  reconcile: (host: string) => `flint.rpc.reconcile.${token(host)}`,
  reconcileAll: 'flint.rpc.reconcile.*',
  /** Core-NATS request-reply to one agent: the manageable images of one of its pools (`Query.manageableVolumes`). */
  manageable: (host: string) => `flint.rpc.agent.${token(host)}.manageable`,
  manageableAll: 'flint.rpc.agent.*.manageable',
  /** Core NATS, every gateway listens: an API token was revoked (src/bus/nats/token-revocation.ts). */
  tokenRevoked: 'flint.gw.token.revoked',
} as const;

/** Who sent an event or a progress report, as its subject says (NATS permissions guarantee it). */
export type Sender = { role: 'agent'; host: string } | { role: 'scheduler' };

/**
 * The sender of a message on `flint.evt.…` or `flint.progress.…`, from its subject: the agent
 * whose host token is in it, or a scheduler. `undefined` for any other subject (a message on
 * a subject of an older contract, which nothing may act on).
 * The agent's `host` is the subject token (`token(host)`): compare it with `token(...)` of a name.
 */
export function senderOf(subject: string): Sender | undefined {
  const parts = subject.split('.');
  if (parts[0] !== 'flint' || (parts[1] !== 'evt' && parts[1] !== 'progress')) return undefined;
  if (parts[2] === 'agent' && parts.length >= 6 && parts[3]) return { role: 'agent', host: parts[3] };
  if (parts[2] === 'scheduler' && parts[1] === 'evt' && parts.length >= 5) return { role: 'scheduler' };
  return undefined;
}

/** The host token of a reconcile request's subject (`flint.rpc.reconcile.<host>`), if it is one. */
export function reconcileHostOf(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 4 && parts[0] === 'flint' && parts[1] === 'rpc' && parts[2] === 'reconcile' && parts[3] ? parts[3] : undefined;
}

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

/** KV key of a pool's stats: `<host>.<pool>` (the host first, so `$KV.flint-pools.<host>.>` can be allowed to that host only). */
export function poolKey(host: string, pool: string): string {
  return `${token(host)}.${token(pool)}`;
}

/** KV key of a service's heartbeat: `<role>.<host>` (`agent.<host>` may be written by that agent only). */
export function serviceKey(role: string, host: string): string {
  return `${token(role)}.${token(host)}`;
}

/**
 * The roles that connect to NATS, each with credentials of its own. Gateways share one
 * identity, schedulers one; every agent has its own, named by its host.
 */
export type BusRole = 'gateway' | 'scheduler' | 'agent';

/**
 * Private reply-inbox prefix of a role (nats.js `inboxPrefix`): the permissions let each
 * identity subscribe to its own prefix only, so no role can read another's replies (RPC
 * answers, JetStream acks and API responses, pulled commands).
 */
export function inboxPrefix(role: BusRole, host?: string): string {
  return role === 'agent' ? `_INBOX_agent_${token(host ?? '')}` : `_INBOX_${role}`;
}

/** Id of a pool as users and the scheduler name it: `host@pool`, like Cinder's `host@backend#pool`. */
export function poolId(host: string, pool: string): string {
  return `${host}@${pool}`;
}

/** The host of a pool id (`host@pool`). */
export function hostOfPoolId(id: string): string {
  return splitPoolId(id).host;
}

/** A pool id (`host@pool`) split back into its host and pool. */
export function splitPoolId(id: string): { host: string; pool: string } {
  const at = id.lastIndexOf('@');
  return at < 0 ? { host: id, pool: '' } : { host: id.slice(0, at), pool: id.slice(at + 1) };
}

/** The JetStream API subject that asks the leader of consumer `durable` of `stream` to step down. */
export function consumerStepdownSubject(stream: string, durable: string): string {
  return `$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${durable}`;
}

/** The agent host token a command subject (`flint.cmd.agent.<host>.<command>`) is addressed to, if any. */
export function commandHostOf(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 5 && parts[0] === 'flint' && parts[1] === 'cmd' && parts[2] === 'agent' && parts[3] ? parts[3] : undefined;
}
