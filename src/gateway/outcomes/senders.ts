/**
 * Trust the database, not the payload: an event (or a progress report) counts only when the
 * host that sent it is one the database associates with what it is about. The sender comes
 * from the subject (`flint.evt.agent.<host>.…`, which NATS lets only that host's agent use,
 * src/bus/nats/permissions.ts), never from the payload.
 *
 * An agent may report on a resource the database places on its host: a volume whose `host`
 * it is, or whose capacity the scheduler reserved on one of its pools (a create under way);
 * a snapshot of such a volume; an attachment asked of it; a backup it took, restores or was
 * sent work on. The event's operation must be one sent to that host (its command's subject,
 * or a migration's destination reservation) or about the same resource. A scheduler may send
 * only the scheduler's kinds. The rule itself (`senderAllowed`) is pure; `SenderCheck` reads
 * what it needs from the database.
 */
import type { EntityManager } from '@mikro-orm/knex';
import {
  ATTACHMENT_KIND,
  BACKUP_KIND,
  commandHostOf,
  hostOfPoolId,
  KIND,
  MANAGE_KIND,
  MIGRATION_KIND,
  RECOVERY_KIND,
  RETYPE_KIND,
  token,
  type Envelope,
  type EventResource,
  type Sender,
} from '../../bus/index.js';
import { findAttachment, findBackup, findById, findOperation, findSnapshot, findVolume, Reservation, type Db } from '../../db/index.js';

/** What an event kind is about, and who may send it. */
interface EventSpec {
  resource: EventResource;
  /** The payload field holding the resource's id; `request.volumeId` for a reschedule, which carries the scheduler's request. */
  idField: 'volumeId' | 'snapshotId' | 'attachmentId' | 'backupId' | 'request.volumeId';
  from: ReadonlyArray<Sender['role']>;
}

const VOLUME_FROM_AGENT: EventSpec = { resource: 'volume', idField: 'volumeId', from: ['agent'] };

/** Every kind the recorder applies. A kind missing here is refused from everyone. */
export const EVENT_SPECS: Readonly<Record<string, EventSpec>> = {
  [KIND.volumeScheduled]: { resource: 'volume', idField: 'volumeId', from: ['scheduler'] },
  [RETYPE_KIND.decided]: { resource: 'volume', idField: 'volumeId', from: ['scheduler'] },
  // The scheduler fails creates and refuses extends it cannot place; agents report the rest.
  [KIND.volumeOutcome]: { resource: 'volume', idField: 'volumeId', from: ['scheduler', 'agent'] },
  [KIND.volumeReschedule]: { resource: 'volume', idField: 'request.volumeId', from: ['agent'] },
  [RECOVERY_KIND.volumeMissing]: VOLUME_FROM_AGENT,
  [MANAGE_KIND.manageOutcome]: VOLUME_FROM_AGENT,
  [MIGRATION_KIND.exporting]: VOLUME_FROM_AGENT,
  [MIGRATION_KIND.copied]: VOLUME_FROM_AGENT,
  [MIGRATION_KIND.failed]: VOLUME_FROM_AGENT,
  [MIGRATION_KIND.cleaned]: VOLUME_FROM_AGENT,
  [KIND.snapshotOutcome]: { resource: 'snapshot', idField: 'snapshotId', from: ['agent'] },
  [ATTACHMENT_KIND.attachmentOutcome]: { resource: 'attachment', idField: 'attachmentId', from: ['agent'] },
  [BACKUP_KIND.backupOutcome]: { resource: 'backup', idField: 'backupId', from: ['agent'] },
  [BACKUP_KIND.backupVerified]: { resource: 'backup', idField: 'backupId', from: ['agent'] },
};

/** What the database says about an event's resource and operation (host tokens). */
export interface SenderFacts {
  /** Hosts that hold or work on the event's resource. */
  resourceHosts: ReadonlySet<string>;
  /** The event's operation, when it names one that exists. */
  operation?: {
    /** Whether it is about the event's resource. */
    sameResource: boolean;
    /** Hosts it was sent to (its command's subject; a migration's destination). */
    hosts: ReadonlySet<string>;
    /** Hosts that hold its own resource (when it is about another one). */
    resourceHosts: ReadonlySet<string>;
  };
}

/**
 * Why `sender` may not have sent an event of `kind` with `payloadHost` (the payload's `host`,
 * if any), given the database's `facts`; undefined when it may. Pure.
 */
export function senderRefusal(sender: Sender, kind: string, payloadHost: string | undefined, facts: SenderFacts | undefined): string | undefined {
  const spec = EVENT_SPECS[kind];
  if (!spec) return `no role sends ${kind} events`;
  if (!spec.from.includes(sender.role)) return `${kind} events come from ${spec.from.join(' or ')}s, not from ${sender.role === 'agent' ? `agent ${sender.host}` : 'a scheduler'}`;
  if (sender.role === 'scheduler') return undefined;
  const host = sender.host;
  if (payloadHost !== undefined && token(payloadHost) !== host) return `agent ${host} sent it on behalf of host ${payloadHost}`;
  if (!facts) return `the database has no such ${spec.resource}`;
  const op = facts.operation;
  const allowed = facts.resourceHosts.has(host) || (op?.sameResource === true && op.hosts.has(host));
  if (!allowed) return `the database places that ${spec.resource} on ${describe(facts.resourceHosts)}, not on ${host}`;
  if (op && !op.sameResource && !op.hosts.has(host) && !op.resourceHosts.has(host)) return `its operation is about another resource, not on ${host}`;
  return undefined;
}

/** The value at a dotted path of a payload (pure). */
export function idIn(payload: Record<string, unknown>, path: string): unknown {
  let at: unknown = payload;
  for (const key of path.split('.')) at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
  return at;
}

function describe(hosts: ReadonlySet<string>): string {
  return hosts.size === 0 ? 'no host' : [...hosts].join(' and ');
}

/** Reads the facts of `senderRefusal` from the database; caches progress checks briefly. */
export class SenderCheck {
  private readonly progressCache = new Map<string, { hosts: ReadonlySet<string>; at: number }>();

  constructor(
    private readonly db: Db,
    /** How long a progress check's hosts are remembered. @default 10_000 */
    private readonly cacheMs = 10_000,
  ) {}

  /** Why the recorder must ignore `env` from `sender`, or undefined when it may apply it. */
  async refusal(sender: Sender | undefined, env: Envelope<unknown>): Promise<string | undefined> {
    if (!sender) return 'it came on a subject that names no sender (an older contract)';
    const spec = EVENT_SPECS[env.kind];
    const p = (env.payload ?? {}) as Record<string, unknown>;
    const payloadHost = typeof p.host === 'string' ? p.host : undefined;
    if (!spec || sender.role === 'scheduler') return senderRefusal(sender, env.kind, payloadHost, undefined);
    const id = idIn(p, spec.idField);
    if (typeof id !== 'string') return `its payload has no ${spec.idField}`;
    const em = this.db.fork();
    const resourceHosts = await this.hostsOf(em, spec.resource, id);
    if (!resourceHosts) return senderRefusal(sender, env.kind, payloadHost, undefined);
    const facts: { -readonly [K in keyof SenderFacts]: SenderFacts[K] } = { resourceHosts };
    const opId = typeof p.operationId === 'string' ? p.operationId : undefined;
    const op = opId ? await findOperation(em, opId) : null;
    if (op) {
      const sameResource = op.resourceType === spec.resource && op.resourceId === id;
      facts.operation = {
        sameResource,
        hosts: await this.operationHosts(em, op.id, op.command?.subject),
        resourceHosts: sameResource ? resourceHosts : ((await this.hostsOf(em, op.resourceType as EventResource, op.resourceId)) ?? new Set()),
      };
    }
    return senderRefusal(sender, env.kind, payloadHost, facts);
  }

  /** Whether agent `host` (a subject token) may report progress of backup `backupId`. */
  mayReportBackup(host: string, backupId: string): Promise<boolean> {
    return this.cachedHas(`backup:${backupId}`, host, async (em) => (await this.hostsOf(em, 'backup', backupId)) ?? new Set());
  }

  /** Whether agent `host` may report the copy progress of migration `operationId` of volume `volumeId`. */
  mayReportMigration(host: string, operationId: string, volumeId: string): Promise<boolean> {
    return this.cachedHas(`migration:${operationId}`, host, async (em) => {
      const op = await findOperation(em, operationId);
      if (!op || op.resourceId !== volumeId) return new Set();
      return this.operationHosts(em, op.id, op.command?.subject);
    });
  }

  private async cachedHas(key: string, host: string, load: (em: EntityManager) => Promise<ReadonlySet<string>>): Promise<boolean> {
    const now = Date.now();
    let hit = this.progressCache.get(key);
    if (!hit || now - hit.at > this.cacheMs) {
      hit = { hosts: await load(this.db.fork()), at: now };
      this.progressCache.set(key, hit);
      if (this.progressCache.size > 10_000) this.progressCache.delete(this.progressCache.keys().next().value!);
    }
    return hit.hosts.has(host);
  }

  /** Host tokens that hold or work on a resource; undefined when the database has no such row. */
  private async hostsOf(em: EntityManager, resource: EventResource, id: string): Promise<Set<string> | undefined> {
    const hosts = new Set<string>();
    const add = (h: string | null | undefined) => {
      if (h) hosts.add(token(h));
    };
    const addVolume = async (volumeId: string | null): Promise<boolean> => {
      if (!volumeId) return false;
      const v = await findVolume(em, volumeId);
      add(v?.host);
      add(await this.reservedHost(em, volumeId));
      return v !== null;
    };
    if (resource === 'volume') return (await addVolume(id)) ? hosts : undefined;
    if (resource === 'snapshot') {
      const s = await findSnapshot(em, id);
      if (!s) return undefined;
      await addVolume(s.volumeId);
      return hosts;
    }
    if (resource === 'attachment') {
      const a = await findAttachment(em, id);
      if (!a) return undefined;
      add(a.host);
      await addVolume(a.volumeId);
      return hosts;
    }
    const b = await findBackup(em, id);
    if (!b) return undefined;
    add(b.host);
    await addVolume(b.restoreVolumeId);
    if (b.operationId) {
      const op = await findOperation(em, b.operationId);
      if (op) for (const h of await this.operationHosts(em, op.id, op.command?.subject)) hosts.add(h);
    }
    return hosts;
  }

  /** Hosts an operation was sent to: its command's subject, and a migration's destination (reserved under its id). */
  private async operationHosts(em: EntityManager, operationId: string, commandSubject: string | undefined): Promise<Set<string>> {
    const hosts = new Set<string>();
    const sentTo = commandSubject ? commandHostOf(commandSubject) : undefined;
    if (sentTo) hosts.add(sentTo);
    const reserved = await this.reservedHost(em, operationId);
    if (reserved) hosts.add(token(reserved));
    return hosts;
  }

  private async reservedHost(em: EntityManager, key: string): Promise<string | undefined> {
    const r = await findById(em, Reservation, key);
    return r ? hostOfPoolId(r.poolId) : undefined;
  }
}
