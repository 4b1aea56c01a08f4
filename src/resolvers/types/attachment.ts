import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { AttachmentView } from '../../bus/index.js';
import { toAttachmentView, type Attachment } from '../../db/index.js';
import { Node } from './node.js';
import { OperationObject } from './operation.js';
import { resourcePayload, type PayloadResource } from './payload.js';
import { StatusAuditObject } from './admin.js';
import { relayConnection } from './relay.js';
import { AttachmentEventTypeEnum } from './enums.js';

/** GraphQL names in upper case; values are the stored (Cinder) names. */
export enum AttachmentStatusEnum {
  RESERVED = 'reserved',
  ATTACHING = 'attaching',
  ATTACHED = 'attached',
  DETACHING = 'detaching',
  DETACHED = 'detached',
  ERROR_ATTACHING = 'error_attaching',
  ERROR_DETACHING = 'error_detaching',
}
registerEnumType(AttachmentStatusEnum, {
  name: 'AttachmentStatus',
  description: 'Where an attachment is in its life (Cinder\'s attachment states). Each mutation starts only from the states it names, INVALID_STATE otherwise.',
  valuesConfig: {
    RESERVED: { description: 'The volume is held for a consumer that has not sent its connector yet (`createAttachment` without one); `updateAttachment` gives it.' },
    ATTACHING: {
      description:
        'The agent is exporting the volume; once `connectionInfo` is set the consumer connects with it and calls `completeAttachment`. Ends ATTACHED, or ERROR_ATTACHING when the export failed or no agent answered in time.',
    },
    ATTACHED: { description: 'The consumer is connected (`completeAttachment`); the volume is IN_USE.' },
    DETACHING: { description: 'The agent is removing the export (`deleteAttachment`). Ends DETACHED or ERROR_DETACHING.' },
    DETACHED: { description: 'Gone: the export is removed and the volume released. Final; lists skip it unless the filter asks for it.' },
    ERROR_ATTACHING: { description: 'The export failed; `Attachment.messages` says why. Delete the attachment and attach again.' },
    ERROR_DETACHING: { description: 'Removing the export failed; `Attachment.messages` says why. Delete it again to retry; an admin can `forceDetach` it.' },
  },
});

export enum AttachModeEnum {
  RW = 'rw',
  RO = 'ro',
}
registerEnumType(AttachModeEnum, {
  name: 'AttachMode',
  description: 'How the consumer may use the volume.',
  valuesConfig: {
    RW: { description: 'Read and write (default).' },
    RO: { description: 'Read only: the target refuses writes.' },
  },
});

export enum TargetKindEnum {
  ISCSI = 'iscsi',
  NBD = 'nbd',
}
registerEnumType(TargetKindEnum, {
  name: 'TargetKind',
  description: 'How the agent exports the volume to the consumer.',
  valuesConfig: {
    ISCSI: { description: 'iSCSI through tgt: one target per attachment, CHAP credentials of its own, only the connector\'s initiator let in (the default of a pool that does not choose another).' },
    NBD: {
      description:
        'NBD through qemu-nbd on a port of its own (FLINT_NBD_PORTS). With FLINT_NBD_TLS_DIR on the agent it requires TLS (`connectionInfo.data.tls`); without, there is no authentication: keep it on a trusted network.',
    },
  },
});

@ObjectType('Connector', { description: 'What the consumer told about itself (Cinder\'s connector), as checked and stored.' })
export class ConnectorObject {
  @Field(() => String, { nullable: true, description: 'iSCSI initiator name (IQN, EUI or NAA), in lower case; the only initiator the iSCSI target lets in. Null for NBD without one.' })
  initiator!: string | null;

  @Field({ description: 'Host name of the consumer.' })
  host!: string;

  @Field(() => String, { nullable: true, description: 'IPv4 or IPv6 address of the consumer; null when not given.' })
  ip!: string | null;

  @Field({ description: 'Whether the consumer uses multipath (recorded; Flint exports one path).' })
  multipath!: boolean;

  @Field(() => String, { nullable: true, description: 'CPU platform of the consumer, e.g. x86_64; null when not given.' })
  platform!: string | null;

  @Field(() => String, { nullable: true, description: 'Operating system type of the consumer, e.g. linux2; null when not given.' })
  osType!: string | null;
}

@ObjectType('ConnectionData', {
  description:
    'How to reach the export, in Cinder\'s `connection_info.data` shape. One object for both kinds: the iSCSI fields are null for NBD and the NBD fields null for iSCSI.',
})
export class ConnectionDataObject {
  @Field(() => String, { nullable: true, description: 'iSCSI: the target\'s IQN.' })
  targetIqn!: string | null;

  @Field(() => String, { nullable: true, description: 'iSCSI: the portal, host:port.' })
  targetPortal!: string | null;

  @Field(() => Int, { nullable: true, description: 'iSCSI: the LUN of the volume in the target.' })
  targetLun!: number | null;

  @Field(() => String, { nullable: true, description: 'iSCSI: "CHAP".' })
  authMethod!: string | null;

  @Field(() => String, { nullable: true, description: 'iSCSI: the CHAP user name of this attachment.' })
  authUsername!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'iSCSI: the CHAP secret of this attachment, generated for it. Shown to members of the attachment\'s project and to admins only; null for readers.',
  })
  authPassword!: string | null;

  @Field({ description: '"rw" or "ro", as exported.' })
  accessMode!: string;

  @Field(() => ID, { description: 'The volume exported.' })
  volumeId!: string;

  @Field(() => ID, { description: 'The attachment this export belongs to.' })
  attachmentId!: string;

  @Field(() => Boolean, { nullable: true, description: 'iSCSI: whether the target passes discard (UNMAP) down.' })
  discard!: boolean | null;

  @Field({
    description:
      'Whether the volume is encrypted at rest (its volume type has an encryption), as the agent that exports it reports. The export already decrypts it: the consumer reads and writes plaintext and needs no key.',
  })
  encrypted!: boolean;

  @Field(() => String, { nullable: true, description: 'NBD: host of the server.' })
  host!: string | null;

  @Field(() => Int, { nullable: true, description: 'NBD: TCP port of the server.' })
  port!: number | null;

  @Field(() => String, { nullable: true, description: 'NBD: export name.' })
  exportName!: string | null;

  @Field(() => String, { nullable: true, description: 'NBD: nbd://host:port/name, as qemu-io and nbdinfo take it; nbds://host:port/name when `tls` is true (libnbd clients such as nbdinfo).' })
  uri!: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'NBD: whether the server requires TLS (FLINT_NBD_TLS_DIR on its agent); a plain client is then refused. Null for iSCSI.',
  })
  tls!: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      'NBD over TLS: the PEM certificate of the CA that signed the server\'s certificate. Save it as ca-cert.pem in a directory and give that to the client: ' +
      'nbdinfo \'nbds://host:port/name?tls-certificates=DIR\', or qemu\'s --object tls-creds-x509,id=tls0,dir=DIR,endpoint=client with tls-creds=tls0. Null without TLS.',
  })
  tlsCaCertificate!: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'NBD over TLS: whether the server also requires a client certificate signed by that CA (client-cert.pem and client-key.pem in the same directory). Null without TLS.',
  })
  tlsClientCertificateRequired!: boolean | null;
}

@ObjectType('ConnectionInfo', { description: 'What a consumer needs to connect (Cinder\'s `connection_info`).' })
export class ConnectionInfoObject {
  @Field({ description: '"iscsi" or "nbd": which fields of `data` are set.' })
  driverVolumeType!: string;

  @Field(() => ConnectionDataObject, { description: 'The connection details.' })
  data!: ConnectionDataObject;
}

@ObjectType('Attachment', {
  implements: Node,
  description:
    'A volume attached to a consumer (Cinder\'s v3 attachment): the consumer\'s connector, and once the agent exported the volume, the `connectionInfo` to connect with. ' +
    'It belongs to the volume\'s project.',
})
export class AttachmentObject extends Node {
  @Field(() => ID, { description: 'The volume attached.' })
  volumeId!: string;

  @Field({ description: 'The consumer (Cinder\'s instance_uuid), as given to `createAttachment`.' })
  instanceId!: string;

  @Field(() => AttachmentStatusEnum, { description: 'Where it is in its life; see AttachmentStatus.' })
  status!: AttachmentStatusEnum;

  @Field(() => AttachModeEnum, { description: 'RW or RO.' })
  mode!: AttachModeEnum;

  @Field(() => TargetKindEnum, { description: 'ISCSI or NBD.' })
  targetKind!: TargetKindEnum;

  @Field(() => ConnectorObject, { nullable: true, description: 'The consumer\'s connector; null while RESERVED without one.' })
  connector!: ConnectorObject | null;

  @Field(() => Int, { description: 'Starts at 1 and grows by one on every change.' })
  version!: number;

  @Field(() => Float, {
    description:
      'The seq of its latest change in its project\'s change feed (an integer, exact to 2^53; Float because it can pass GraphQL\'s 32-bit Int). ' +
      'Compare it with a list\'s `changeSeq`; see `attachmentEvents(sinceSeq:)`.',
  })
  changeSeq!: number;

  @Field(() => String, { nullable: true, description: 'The `idempotencyKey` it was created with, so a tool can find what its key made; null when none was given, or once the key expired (FLINT_IDEMPOTENCY_TTL_SECONDS after the create, one day by default) and was given to a new create.' })
  idempotencyKey!: string | null;

  @Field(() => Date, { nullable: true, description: 'When it was completed (ATTACHED); null before.' })
  attachedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it became DETACHED; null before.' })
  detachedAt!: Date | null;

  @Field({ description: 'When it was requested (UTC, ISO 8601).' })
  createdAt!: Date;

  @Field({ description: 'When it last changed (UTC, ISO 8601).' })
  updatedAt!: Date;

  /** Not fields: for the connectionInfo resolver and authorisation. */
  projectIdValue!: string;
  connectionValue!: AttachmentView['connection'];
  chapUsernameValue!: string | null;

  static fromView(v: AttachmentView): AttachmentObject {
    return Object.assign(new AttachmentObject(), {
      id: v.id,
      volumeId: v.volumeId,
      instanceId: v.instanceId,
      status: v.status as AttachmentStatusEnum,
      mode: v.mode as AttachModeEnum,
      targetKind: v.targetKind as TargetKindEnum,
      connector: v.connector,
      version: v.version,
      changeSeq: v.changeSeq ?? 0,
      idempotencyKey: v.idempotencyKey ?? null,
      attachedAt: v.attachedAt ? new Date(v.attachedAt) : null,
      detachedAt: v.detachedAt ? new Date(v.detachedAt) : null,
      createdAt: new Date(v.createdAt),
      updatedAt: new Date(v.updatedAt),
      projectIdValue: v.projectId,
      connectionValue: v.connection,
      chapUsernameValue: v.chapUsername,
    });
  }

  static from(a: Attachment): AttachmentObject {
    return AttachmentObject.fromView(toAttachmentView(a));
  }
}

/** Cinder's connection_info from the stored connection; `password` only for those allowed to see it. */
export function connectionInfoOf(a: AttachmentObject, password: string | null): ConnectionInfoObject | null {
  const c = a.connectionValue;
  if (!c || (a.status !== 'attaching' && a.status !== 'attached')) return null;
  const base = { accessMode: c.accessMode, volumeId: a.volumeId, attachmentId: a.id, encrypted: c.encrypted ?? false };
  const none = { targetIqn: null, targetPortal: null, targetLun: null, authMethod: null, authUsername: null, authPassword: null, discard: null, host: null, port: null, exportName: null, uri: null };
  const noTls = { tls: null, tlsCaCertificate: null, tlsClientCertificateRequired: null };
  const data: ConnectionDataObject =
    c.driverVolumeType === 'iscsi'
      ? {
          ...none,
          ...noTls,
          ...base,
          targetIqn: c.targetIqn,
          targetPortal: c.targetPortal,
          targetLun: c.targetLun,
          discard: c.discard,
          authMethod: a.chapUsernameValue ? 'CHAP' : null,
          authUsername: a.chapUsernameValue,
          authPassword: a.chapUsernameValue ? password : null,
        }
      : { ...none, ...base, host: c.host, port: c.port, exportName: c.exportName, uri: c.uri, ...nbdTlsData(c.tls) };
  return { driverVolumeType: c.driverVolumeType, data };
}

/** The TLS fields of an NBD connection: `tls` false and the rest null for plain NBD. */
function nbdTlsData(tls: { caCertificate: string; clientCertificateRequired: boolean } | undefined): Pick<ConnectionDataObject, 'tls' | 'tlsCaCertificate' | 'tlsClientCertificateRequired'> {
  if (!tls) return { tls: false, tlsCaCertificate: null, tlsClientCertificateRequired: null };
  return { tls: true, tlsCaCertificate: tls.caCertificate, tlsClientCertificateRequired: tls.clientCertificateRequired };
}

const attachmentPage = relayConnection(AttachmentObject, { name: 'Attachment', one: 'attachment', many: 'attachments', order: 'oldest first', changeFeed: 'attachmentEvents' });
export const AttachmentConnection = attachmentPage.Connection;
export type AttachmentConnection = InstanceType<typeof AttachmentConnection>;

@InputType({ description: 'Conditions an attachment must meet; all given ones apply.' })
export class AttachmentFilter {
  @Field(() => [AttachmentStatusEnum], { nullable: true, description: 'Any of these statuses (default: all but DETACHED).' })
  status?: AttachmentStatusEnum[];

  @Field(() => ID, { nullable: true, description: 'Only attachments of this volume.' })
  volumeId?: string;

  @Field({ nullable: true, description: 'Only attachments of this consumer.' })
  instanceId?: string;

  @Field(() => ID, {
    nullable: true,
    description:
      'Only attachments of this project (admins: any project). For other tokens it only narrows their own project: another project\'s id matches nothing (no error, as for the other conditions).',
  })
  projectId?: string;
}

@ObjectType('AttachmentEvent', { description: 'A change of an attachment, as `attachmentEvents` sends it.' })
export class AttachmentEventObject {
  @Field(() => AttachmentEventTypeEnum, { description: 'CREATED, UPDATED or DELETED (it became DETACHED).' })
  type!: AttachmentEventTypeEnum;

  @Field(() => AttachmentObject, { description: 'The attachment after the change (in a replay: as it is now).' })
  attachment!: AttachmentObject;
}

const ATTACHMENT: PayloadResource = { field: 'attachment', type: () => AttachmentObject, follow: '`attachmentChanged`' };
export const CreateAttachmentPayload = resourcePayload(
  'CreateAttachmentPayload',
  'The new attachment (ATTACHING with a connector, RESERVED without) and its operation (exporting, or already SUCCEEDED); or the existing attachment of this instance and host, and its operation.',
  ATTACHMENT,
);
export const UpdateAttachmentPayload = resourcePayload('UpdateAttachmentPayload', 'The attachment (ATTACHING) and the operation exporting the volume.', ATTACHMENT);
export const CompleteAttachmentPayload = resourcePayload('CompleteAttachmentPayload', 'The attachment (ATTACHED) and the operation, already SUCCEEDED.', ATTACHMENT);
export const DeleteAttachmentPayload = resourcePayload(
  'DeleteAttachmentPayload',
  'The attachment (DETACHING, or DETACHED when nothing was exported or it was detached already) and the operation removing the export.',
  ATTACHMENT,
  'delete',
);

@ObjectType('ForceDetachPayload', { description: 'The attachment (DETACHING or DETACHED), the operation removing the export, and the audit record.' })
export class ForceDetachPayload {
  @Field(() => AttachmentObject, { description: 'The attachment as the mutation left it.' })
  attachment!: AttachmentObject;

  @Field(() => OperationObject, { description: 'The work started.' })
  operation!: OperationObject;

  @Field(() => StatusAuditObject, { description: 'Who did it, from which status, and why.' })
  audit!: StatusAuditObject;
}
