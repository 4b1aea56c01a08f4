/**
 * The tables. Plain columns for references (no ORM relations): every write that
 * matters is a compare-and-set in `src/db/*-store.ts`, and a flat row is what both
 * the GraphQL layer and the live fan-out serialise.
 */
import type { OperationKind, OperationResourceType } from '../domain/operations.js';
import 'reflect-metadata';
import { BigIntType, Entity, Index, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import type { VolumeStatus } from '../domain/volume-states.js';
import type { MigrationStatus } from '../domain/migration.js';
import type { QuotaOverrides } from '../domain/quotas.js';
import type { EncryptionSpec } from '../domain/encryption.js';
import { Attachment } from './attachment-entity.js';
import { Backup } from './backup-store.js';
import { VolumeTypeAccess } from './volume-type-access.js';
import { QuotaTypeUsage, QuotaUsage } from './quota-entities.js';
import { VolumeTransfer } from './transfer-store.js';
import { ChangeCounter, ChangeEvent } from './change-feed-entities.js';

export type Role = 'admin' | 'member' | 'reader';
export const ROLES: readonly Role[] = ['admin', 'member', 'reader'];

@Entity({ tableName: 'project' })
export class Project {
  [OptionalProps]?: 'createdAt' | 'quotaLimits';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Property({ type: 'string', length: 64, unique: true }) name!: string;
  /** An admin's overrides of the default quota limits (src/domain/quotas.ts); null: the defaults. */
  @Property({ type: 'json', nullable: true }) quotaLimits: QuotaOverrides | null = null;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
}

@Entity({ tableName: 'api_token' })
export class ApiToken {
  [OptionalProps]?: 'createdAt' | 'name' | 'revokedAt' | 'expiresAt' | 'lastUsedAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Index() @Property({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'string', length: 16 }) role!: Role;
  /** sha256 of the token, hex; the token itself is never stored. */
  @Property({ type: 'string', length: 64, unique: true }) tokenHash!: string;
  @Property({ type: 'string', length: 128, nullable: true }) name: string | null = null;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime', nullable: true }) revokedAt: Date | null = null;
  /** From this instant on the token is refused; null: it never expires. */
  @Property({ type: 'datetime', nullable: true }) expiresAt: Date | null = null;
  /** When it last authenticated a request; written at most about once a minute (src/gateway/http/token-usage.ts). */
  @Property({ type: 'datetime', nullable: true }) lastUsedAt: Date | null = null;
}

@Entity({ tableName: 'volume' })
@Unique({ properties: ['projectId', 'idempotencyKey'] })
@Index({ properties: ['projectId', 'createdAt', 'id'] })
export class Volume {
  [OptionalProps]?:
    | 'description'
    | 'volumeType'
    | 'metadata'
    | 'version'
    | 'generation'
    | 'host'
    | 'pool'
    | 'idempotencyKey'
    | 'snapshotId'
    | 'sourceVolumeId'
    | 'requestHash'
    | 'migrationStatus'
    | 'multiattach'
    | 'pendingSizeGiB'
    | 'pendingVolumeType'
    | 'encryptionKey'
    | 'changeSeq'
    | 'createdAt'
    | 'updatedAt'
    | 'deletedAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Property({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'string', length: 255 }) name!: string;
  @Property({ type: 'text', nullable: true }) description: string | null = null;
  @Property({ type: 'integer', fieldName: 'size_gib' }) sizeGiB!: number;
  @Index() @Property({ type: 'string', length: 32 }) status!: VolumeStatus;
  @Property({ type: 'string', length: 255, nullable: true }) volumeType: string | null = null;
  @Property({ type: 'string', length: 255 }) availabilityZone!: string;
  @Property({ type: 'json' }) metadata: Record<string, string> = {};
  /** Increments on every change: optimistic concurrency for updates and ordering for subscribers. */
  @Property({ type: 'integer' }) version: number = 1;
  /**
   * Increments only when a field the user sets takes a new value (name, description, metadata,
   * size, type, multiattach: src/domain/generation.ts), never on a status move (Kubernetes'
   * metadata.generation). Written by the compare-and-set in volume-store.ts.
   */
  @Property({ type: 'integer', default: 1 }) generation: number = 1;
  @Property({ type: 'string', length: 255, nullable: true }) host: string | null = null;
  @Property({ type: 'string', length: 255, nullable: true }) pool: string | null = null;
  @Property({ type: 'string', length: 255, nullable: true }) idempotencyKey: string | null = null;
  /** The snapshot this volume was created from, if any (Cinder's `snapshot_id`). */
  @Property({ type: 'string', length: 36, nullable: true }) snapshotId: string | null = null;
  /** The volume this one was cloned from, if any (Cinder's `source_volid`). */
  @Property({ type: 'string', length: 36, nullable: true }) sourceVolumeId: string | null = null;
  /** sha256 of the create request, to refuse a reused idempotency key with other parameters. */
  @Property({ type: 'string', length: 64, nullable: true }) requestHash: string | null = null;
  /** Progress of its last migration (src/domain/migration.ts); null when it was never migrated. */
  @Property({ type: 'string', length: 16, nullable: true }) migrationStatus: MigrationStatus | null = null;
  /** May be attached more than once at a time (Cinder's `multiattach`): set at create or by the volume type's extra spec. */
  @Property({ type: 'boolean', default: false }) multiattach: boolean = false;
  /** The size an EXTENDING volume is growing to: its quota reserves the difference (src/domain/quotas.ts). Meaningless in other states. */
  @Property({ type: 'integer', fieldName: 'pending_size_gib', nullable: true }) pendingSizeGiB: number | null = null;
  /** The type a RETYPING volume is becoming: its quota reserves the volume in that type. Meaningless in other states. */
  @Property({ type: 'string', length: 255, nullable: true }) pendingVolumeType: string | null = null;
  /**
   * An encrypted volume's key, sealed (src/domain/secret-box.ts, the volume id as associated
   * data); null for a volume that is not encrypted. Never returned by the API.
   */
  @Property({ type: 'text', nullable: true }) encryptionKey: string | null = null;
  /**
   * The seq, in its project's change feed, of the row's latest change: set by the triggers of
   * change-feed-sql.ts on every insert and update, never by the application.
   */
  @Property({ type: new BigIntType('number'), default: 0 }) changeSeq: number = 0;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime' }) updatedAt: Date = new Date();
  @Property({ type: 'datetime', nullable: true }) deletedAt: Date | null = null;
}

export type SnapshotStatus = 'creating' | 'available' | 'deleting' | 'deleted' | 'error' | 'error_deleting';

/** A point-in-time copy of a volume, kept by the volume's driver on the volume's pool. */
@Entity({ tableName: 'snapshot' })
@Unique({ properties: ['projectId', 'idempotencyKey'] })
@Index({ properties: ['projectId', 'createdAt', 'id'] })
export class Snapshot {
  [OptionalProps]?: 'description' | 'metadata' | 'version' | 'generation' | 'idempotencyKey' | 'requestHash' | 'changeSeq' | 'createdAt' | 'updatedAt' | 'deletedAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Property({ type: 'string', length: 36 }) projectId!: string;
  @Index() @Property({ type: 'string', length: 36 }) volumeId!: string;
  @Property({ type: 'string', length: 255 }) name!: string;
  @Property({ type: 'text', nullable: true }) description: string | null = null;
  /** Size of the volume when the snapshot was taken. */
  @Property({ type: 'integer', fieldName: 'size_gib' }) sizeGiB!: number;
  @Index() @Property({ type: 'string', length: 32 }) status!: SnapshotStatus;
  /** The user's key/value pairs, as `Volume.metadata` (Cinder's snapshot metadata); `{}` for rows made before it existed. */
  @Property({ type: 'json', default: '{}' }) metadata: Record<string, string> = {};
  @Property({ type: 'integer' }) version: number = 1;
  /** Increments only when its name, description or metadata takes a new value (see `Volume.generation`). */
  @Property({ type: 'integer', default: 1 }) generation: number = 1;
  @Property({ type: 'string', length: 255, nullable: true }) idempotencyKey: string | null = null;
  @Property({ type: 'string', length: 64, nullable: true }) requestHash: string | null = null;
  /** The seq of its latest change in its project's change feed (see `Volume.changeSeq`). */
  @Property({ type: new BigIntType('number'), default: 0 }) changeSeq: number = 0;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime' }) updatedAt: Date = new Date();
  @Property({ type: 'datetime', nullable: true }) deletedAt: Date | null = null;
}

/** Who changed a resource's status by hand (admin actions such as resetVolumeStatus), when, from, to and why. */
@Entity({ tableName: 'status_audit' })
@Index({ properties: ['resourceType', 'resourceId', 'createdAt'] })
export class StatusAudit {
  [OptionalProps]?: 'reason' | 'createdAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Property({ type: 'string', length: 32 }) resourceType!: string;
  @Property({ type: 'string', length: 36 }) resourceId!: string;
  @Index() @Property({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'string', length: 64 }) action!: string;
  @Property({ type: 'string', length: 32 }) fromStatus!: string;
  @Property({ type: 'string', length: 32 }) toStatus!: string;
  @Property({ type: 'text', nullable: true }) reason: string | null = null;
  /** The token that did it, and its project (the actor). */
  @Property({ type: 'string', length: 36 }) actorTokenId!: string;
  @Property({ type: 'string', length: 36 }) actorProjectId!: string;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
}

export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed';

/**
 * One asynchronous piece of work a mutation started. It is also the outbox: `command`
 * holds the message to publish, and `dispatchedAt` stays null until NATS took it, so a
 * gateway that dies between the commit and the publish loses nothing.
 */
@Entity({ tableName: 'operation' })
@Index({ properties: ['dispatchedAt', 'createdAt'] })
/**
 * One namespace of keys per project for every mutation that changes an existing resource
 * (update, extend, retype, migrate…), not one per kind: a key sent again with another
 * mutation is a client's mistake, answered CONFLICT naming the operation it made, rather than
 * a second change. Creates keep their keys on the rows they create (Volume, Snapshot…).
 */
@Unique({ properties: ['projectId', 'idempotencyKey'] })
export class Operation {
  [OptionalProps]?: 'status' | 'errorCode' | 'errorMessage' | 'command' | 'dispatchedAt' | 'deadlineAt' | 'createdAt' | 'finishedAt' | 'idempotencyKey' | 'requestHash';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Index() @Property({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'string', length: 64 }) kind!: OperationKind;
  @Property({ type: 'string', length: 32 }) resourceType!: OperationResourceType;
  @Index() @Property({ type: 'string', length: 36 }) resourceId!: string;
  @Property({ type: 'string', length: 16 }) status: OperationStatus = 'pending';
  @Property({ type: 'string', length: 32, nullable: true }) errorCode: string | null = null;
  @Property({ type: 'text', nullable: true }) errorMessage: string | null = null;
  @Property({ type: 'json', nullable: true }) command: OutboxCommand | null = null;
  @Property({ type: 'datetime', nullable: true }) dispatchedAt: Date | null = null;
  /** An operation still PENDING or RUNNING at this time is failed by the deadline sweeper. */
  @Index() @Property({ type: 'datetime', nullable: true }) deadlineAt: Date | null = null;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime', nullable: true }) finishedAt: Date | null = null;
  /** The caller's key of the change that recorded it (src/gateway/mutations/kernel.ts); null without one, or once it expired and was given to a new request. */
  @Property({ type: 'string', length: 255, nullable: true }) idempotencyKey: string | null = null;
  /** sha256 of that change's request (its kind, resource and resolved parameters), to refuse the key sent with other parameters. */
  @Property({ type: 'string', length: 64, nullable: true }) requestHash: string | null = null;
}

export interface OutboxCommand {
  subject: string;
  kind: string;
  payload: unknown;
  msgId: string;
}

@Entity({ tableName: 'user_message' })
@Index({ properties: ['resourceType', 'resourceId'] })
export class UserMessage {
  [OptionalProps]?: 'level' | 'createdAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Index() @Property({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'string', length: 32 }) resourceType!: string;
  @Property({ type: 'string', length: 36 }) resourceId!: string;
  @Property({ type: 'string', length: 64 }) event!: string;
  @Property({ type: 'text' }) message!: string;
  @Property({ type: 'string', length: 16 }) level: 'ERROR' | 'WARNING' | 'INFO' = 'ERROR';
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime' }) expiresAt!: Date;
}

@Entity({ tableName: 'volume_type' })
export class VolumeType {
  [OptionalProps]?: 'description' | 'extraSpecs' | 'encryption' | 'isPublic' | 'version' | 'createdAt' | 'updatedAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Property({ type: 'string', length: 255, unique: true }) name!: string;
  @Property({ type: 'text', nullable: true }) description: string | null = null;
  @Property({ type: 'json' }) extraSpecs: Record<string, string> = {};
  /** Volumes of this type are encrypted at rest (Cinder's encryption type); null: they are not. */
  @Property({ type: 'json', nullable: true }) encryption: EncryptionSpec | null = null;
  @Property({ type: 'boolean' }) isPublic: boolean = true;
  /** Increments on every change: `updateVolumeType`'s `expectedVersion`. */
  @Property({ type: 'integer', default: 1 }) version: number = 1;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime', nullable: true }) updatedAt: Date | null = null;
}

/** GiB Flint has promised on a pool: the bound every scheduler checks in one conditional UPDATE. */
@Entity({ tableName: 'pool_allocation' })
export class PoolAllocation {
  [OptionalProps]?: 'allocatedGiB';
  /** `host@pool` */
  @PrimaryKey({ type: 'string', length: 255 }) poolId!: string;
  @Property({ type: 'integer', fieldName: 'allocated_gib' }) allocatedGiB: number = 0;
}

/** Which pool holds a volume's capacity; one row per volume makes reserve/release idempotent. */
@Entity({ tableName: 'reservation' })
export class Reservation {
  [OptionalProps]?: 'createdAt';
  @PrimaryKey({ type: 'string', length: 36 }) volumeId!: string;
  @Index() @Property({ type: 'string', length: 255 }) poolId!: string;
  @Property({ type: 'integer', fieldName: 'size_gib' }) sizeGiB!: number;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
}

export const ENTITIES = [Project, ApiToken, Volume, Snapshot, Operation, UserMessage, VolumeType, PoolAllocation, Reservation, StatusAudit, Attachment, Backup, VolumeTypeAccess, QuotaUsage, QuotaTypeUsage, VolumeTransfer, ChangeCounter, ChangeEvent];
