/**
 * The attachment table (Cinder's `volume_attachment`): one row per attachment of a volume
 * to a consumer, with what the consumer sent (connector), how the agent exported it
 * (target kind, connection) and the CHAP credentials of its iSCSI export.
 */
import 'reflect-metadata';
import { BigIntType, Entity, Index, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import type { AttachMode, AttachmentStatus, AttachTargetKind } from '../domain/attachment-states.js';
import type { Connector } from '../domain/connector.js';

/** What the agent's target answered (src/node-agent/targets/target.ts `ConnectionData`), as stored. */
export interface StoredConnection {
  driverVolumeType: 'iscsi' | 'nbd';
  targetIqn?: string;
  targetPortal?: string;
  targetLun?: number;
  discard?: boolean;
  host?: string;
  port?: number;
  exportName?: string;
  uri?: string;
  accessMode: 'rw' | 'ro';
  /** NBD over TLS: the CA certificate (PEM) clients verify the server with. */
  tls?: { caCertificate: string; clientCertificateRequired: boolean };
}

@Entity({ tableName: 'attachment' })
@Unique({ properties: ['projectId', 'idempotencyKey'] })
@Index({ properties: ['projectId', 'createdAt', 'id'] })
export class Attachment {
  [OptionalProps]?:
    | 'connector'
    | 'connection'
    | 'chapUsername'
    | 'chapSecret'
    | 'host'
    | 'pool'
    | 'idempotencyKey'
    | 'requestHash'
    | 'exportRequested'
    | 'version'
    | 'changeSeq'
    | 'attachedAt'
    | 'detachedAt'
    | 'createdAt'
    | 'updatedAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Property({ type: 'string', length: 36 }) projectId!: string;
  @Index() @Property({ type: 'string', length: 36 }) volumeId!: string;
  /** The consumer (Cinder's `instance_uuid`): any id the caller gives. */
  @Property({ type: 'string', length: 255 }) instanceId!: string;
  @Index() @Property({ type: 'string', length: 32 }) status!: AttachmentStatus;
  @Property({ type: 'string', length: 8 }) mode!: AttachMode;
  @Property({ type: 'string', length: 16 }) targetKind!: AttachTargetKind;
  /** Null while RESERVED without a connector. */
  @Property({ type: 'json', nullable: true }) connector: Connector | null = null;
  /** Set when the agent exported the volume. */
  @Property({ type: 'json', nullable: true }) connection: StoredConnection | null = null;
  @Property({ type: 'string', length: 64, nullable: true }) chapUsername: string | null = null;
  /** The CHAP secret of the iSCSI export, sealed (`v1:…`, src/gateway/mutations/attachment-secrets.ts); shown only to the attachment's project members and admins, never logged. */
  @Property({ type: 'string', length: 255, nullable: true }) chapSecret: string | null = null;
  /** The volume's host and pool when the export was asked for (the agent that holds it). */
  @Index() @Property({ type: 'string', length: 255, nullable: true }) host: string | null = null;
  @Property({ type: 'string', length: 255, nullable: true }) pool: string | null = null;
  /** Whether an export command was ever sent: deleting it then needs the agent. */
  @Property({ type: 'boolean' }) exportRequested: boolean = false;
  @Property({ type: 'string', length: 255, nullable: true }) idempotencyKey: string | null = null;
  @Property({ type: 'string', length: 64, nullable: true }) requestHash: string | null = null;
  @Property({ type: 'integer' }) version: number = 1;
  /** The seq of its latest change in its project's change feed (see `Volume.changeSeq`). */
  @Property({ type: new BigIntType('number'), default: 0 }) changeSeq: number = 0;
  @Property({ type: 'datetime', nullable: true }) attachedAt: Date | null = null;
  @Property({ type: 'datetime', nullable: true }) detachedAt: Date | null = null;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  @Property({ type: 'datetime' }) updatedAt: Date = new Date();
}
