/**
 * What each role may do on NATS, as nats-server subject permissions, and the server
 * configuration that holds them (`flint nats-config`, `flint dev`). Pure: names in, text out.
 *
 * The rule is least privilege, by the subject layout of subjects.ts:
 * - a **gateway** publishes commands (`flint.cmd.>`), live events (`flint.live.>`), gateway
 *   broadcasts (`flint.gw.>`) and manageable-images requests to agents; reads events through
 *   its recorder's durable consumer, progress, live events and reconcile requests; makes the
 *   streams and buckets; asks a command consumer's leader to step down when it stopped
 *   delivering; answers RPCs (`allow_responses`);
 * - a **scheduler** reads its commands (its durable consumer), publishes agent commands and
 *   its own events (`flint.evt.scheduler.>`), reads the pool heartbeats;
 * - the **agent of host H** consumes only H's durable consumer (created through the API
 *   subject that names its filter `flint.cmd.agent.H.>`, so it cannot filter on another
 *   host's commands), publishes only what carries H (`flint.evt.agent.H.>`,
 *   `flint.progress.agent.H.>`, `flint.rpc.reconcile.H`, KV keys `H.*` and `agent.H`), and
 *   answers only `flint.rpc.agent.H.manageable`; an agent whose pools name a backend host B
 *   (a pool shared by several agents) gets B's agent permissions too, and only those B;
 * - every identity subscribes to its own reply inbox only (`_INBOX_<role>…`), so it cannot
 *   read another's replies, JetStream acks or pulled messages.
 * No identity may subscribe to what it does not need, and none but gateways may publish
 * `flint.live.>`. Nothing here is per-server: the same file serves every node of a cluster.
 */
import { agentDurable, consumerStepdownSubject, inboxPrefix, KV_POOLS, KV_SERVICES, RECORDER_DURABLE, SCHEDULER_DURABLE, STREAM_CMD, STREAM_EVT, subjects, token, type BusRole } from '../contract/index.js';

export interface SubjectPermissions {
  publish: string[];
  subscribe: string[];
  /** Whether the identity may publish to the reply subject of a request it received (RPC answers). */
  allowResponses: boolean;
}

/** Options that change a role's permissions. */
export interface PermissionOptions {
  /** The agent's host (required for an agent). */
  host?: string;
  /** NATS object-store buckets agents keep backups in (`FLINT_BACKUP_REPOSITORY=nats:<bucket>`). */
  backupBuckets?: readonly string[];
  /**
   * Backend hosts the agent serves (its pools' `backendHost`): it also gets each one's agent
   * permissions (its shared durable consumer, its events, progress, KV keys, RPCs and inbox).
   */
  backends?: readonly string[];
}

const KV_STREAMS = [`KV_${KV_POOLS}`, `KV_${KV_SERVICES}`];

/** Reading a KV bucket: direct gets, and the ordered consumers behind `watch()` and `keys()` (with their flow control). */
function kvReader(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ];
}

/** A durable pull consumer of one's own: created only with `filter` (the API subject names it), then pulled and acked. */
function durablePuller(stream: string, durable: string, filter: string): string[] {
  return [
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.${filter}`,
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ];
}

/** Everything on one stream an owner of it needs (the agents' backup repositories, which they create and purge). */
function streamOwner(stream: string): string[] {
  return [
    `$JS.API.STREAM.*.${stream}`,
    `$JS.API.STREAM.MSG.*.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.*.${stream}.*`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.ACK.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/** What an agent needs of the NATS backup repository `bucket` (src/node-agent/backup/nats-repository.ts). */
function backupRepository(bucket: string): string[] {
  return [
    ...streamOwner(`OBJ_${bucket}`),
    ...streamOwner(`KV_${bucket}-leases`),
    ...streamOwner(`KV_${bucket}-id`),
    `$O.${bucket}.>`,
    `$KV.${bucket}-leases.>`,
    `$KV.${bucket}-id.>`,
  ];
}

/** The subject permissions of one role (see the module's documentation). */
export function rolePermissions(role: BusRole, opts: PermissionOptions = {}): SubjectPermissions {
  if (role === 'gateway') {
    return {
      publish: [
        subjects.cmdAll,
        subjects.liveAll,
        subjects.gatewayAll,
        subjects.manageableAll,
        `$KV.${KV_SERVICES}.gateway.*`,
        '$JS.API.INFO',
        ...[STREAM_CMD, STREAM_EVT, ...KV_STREAMS].flatMap((s) => [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`]),
        // A command consumer that stopped delivering gets a new leader (src/gateway/sweepers/resend.ts).
        consumerStepdownSubject(STREAM_CMD, '*'),
        ...durablePuller(STREAM_EVT, RECORDER_DURABLE, subjects.evtAll),
        ...KV_STREAMS.flatMap(kvReader),
      ],
      subscribe: [subjects.liveAll, subjects.gatewayAll, subjects.progressAll, subjects.reconcileAll, `${inboxPrefix('gateway')}.>`],
      allowResponses: true,
    };
  }
  if (role === 'scheduler') {
    return {
      publish: [
        subjects.agentCommandsAll,
        subjects.schedulerEventsAll,
        `$KV.${KV_SERVICES}.scheduler.*`,
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.KV_${KV_SERVICES}`,
        ...durablePuller(STREAM_CMD, SCHEDULER_DURABLE, subjects.schedulerAll),
        ...kvReader(`KV_${KV_POOLS}`),
      ],
      subscribe: [`${inboxPrefix('scheduler')}.>`],
      allowResponses: false,
    };
  }
  if (!opts.host) throw new Error('an agent\'s permissions need its host');
  const hosts = [opts.host, ...new Set((opts.backends ?? []).filter((b) => token(b) !== token(opts.host!)))];
  const each = hosts.map(agentHostPermissions);
  return {
    publish: [...each.flatMap((p) => p.publish), '$JS.API.INFO', ...KV_STREAMS.map((s) => `$JS.API.STREAM.INFO.${s}`), ...(opts.backupBuckets ?? []).flatMap(backupRepository)],
    subscribe: each.flatMap((p) => p.subscribe),
    allowResponses: true,
  };
}

/** What carries one host (an agent's own, or a backend host it serves): see the module's documentation. */
function agentHostPermissions(host: string): Pick<SubjectPermissions, 'publish' | 'subscribe'> {
  const t = token(host);
  return {
    publish: [
      subjects.agentEventsOf(host),
      subjects.agentProgressOf(host),
      subjects.reconcile(host),
      `$KV.${KV_POOLS}.${t}.*`,
      `$KV.${KV_SERVICES}.agent.${t}`,
      ...durablePuller(STREAM_CMD, agentDurable(host), subjects.agentAll(host)),
    ],
    subscribe: [`${inboxPrefix('agent', host)}.>`, subjects.manageable(host)],
  };
}

/** One nats-server user: an nkey public key and what it may do. */
export interface NatsUser {
  /** Which role and host, for the comment above the user. */
  label: string;
  nkey: string;
  permissions: SubjectPermissions;
}

export interface ServerConfigOptions {
  users: readonly NatsUser[];
  /** JetStream store directory; absent: the server's default (or `-sd` on its command line). */
  storeDir?: string;
  /** `host:port` to listen on; absent: nats-server's default (or `-a`/`-p` on its command line). */
  listen?: string;
  /** Server TLS; with `caFile`, every client must present a certificate it signed (mutual TLS). */
  tls?: { certFile: string; keyFile: string; caFile?: string };
}

const q = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[], indent: string): string => `[\n${items.map((i) => `${indent}  ${q(i)}`).join(',\n')}\n${indent}]`;

/**
 * The nats-server configuration (its own format, which JSON strings fit) with one nkey user
 * per role and no anonymous access: a client without one of these keys is refused.
 */
export function renderServerConfig(opts: ServerConfigOptions): string {
  const out: string[] = [
    '# nats-server configuration for Flint (written by `flint nats-config` / `flint dev`).',
    '# Every client authenticates with an nkey; there is no anonymous user. The keys below are',
    '# public: the seeds stay with the roles (FLINT_NATS_NKEY_SEED_FILE).',
  ];
  if (opts.listen) out.push(`listen: ${q(opts.listen)}`);
  out.push(`jetstream: {${opts.storeDir ? ` store_dir: ${q(opts.storeDir)} ` : ''}}`);
  if (opts.tls) {
    out.push('tls: {');
    out.push(`  cert_file: ${q(opts.tls.certFile)}`);
    out.push(`  key_file: ${q(opts.tls.keyFile)}`);
    if (opts.tls.caFile) out.push(`  ca_file: ${q(opts.tls.caFile)}`, '  verify: true');
    out.push('}');
  }
  out.push('authorization: {', '  users: [');
  opts.users.forEach((u, i) => {
    out.push(`    # ${u.label}`);
    out.push('    {');
    out.push(`      nkey: ${q(u.nkey)}`);
    out.push('      permissions: {');
    out.push(`        publish: { allow: ${list(u.permissions.publish, '        ')} }`);
    out.push(`        subscribe: { allow: ${list(u.permissions.subscribe, '        ')} }`);
    if (u.permissions.allowResponses) out.push('        allow_responses: true');
    out.push('      }');
    out.push(`    }${i < opts.users.length - 1 ? ',' : ''}`);
  });
  out.push('  ]', '}', '');
  return out.join('\n');
}

/**
 * Host names whose subject tokens collide (`a.b` and `a_b` are both `a_b`): they would share
 * permissions, so a credential set must not name both. Returns the groups that collide.
 */
export function collidingHosts(hosts: readonly string[]): string[][] {
  const byToken = new Map<string, string[]>();
  for (const h of hosts) byToken.set(token(h), [...(byToken.get(token(h)) ?? []), h]);
  return [...byToken.values()].filter((g) => g.length > 1);
}
