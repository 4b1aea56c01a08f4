/** The inputs of the attachment mutations (`createAttachment`, `updateAttachment`, …). */
import { Field, ID, InputType } from 'type-graphql';
import { AttachModeEnum, TargetKindEnum } from './attachment.js';

@InputType({ description: 'What the consumer tells about itself (Cinder\'s connector). Every problem is reported at once as BAD_USER_INPUT.' })
export class ConnectorInput {
  @Field(() => String, {
    nullable: true,
    description:
      'iSCSI initiator name: iqn.YYYY-MM.reversed.domain[:identifier] (e.g. iqn.2004-10.com.example:host1), eui. + 16 hex digits, or naa. + 16 or 32 hex digits. ' +
      'Required for an ISCSI attachment: only this initiator may log in.',
  })
  initiator?: string | null;

  @Field({ description: 'Host name of the consumer: letters, digits, ".", "-", "_".' })
  host!: string;

  @Field(() => String, { nullable: true, description: 'IPv4 or IPv6 address of the consumer.' })
  ip?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether the consumer uses multipath; default false.' })
  multipath?: boolean | null;

  @Field(() => String, { nullable: true, description: 'CPU platform, e.g. x86_64 (1 to 64 letters, digits, "_", ".", "-").' })
  platform?: string | null;

  @Field(() => String, { nullable: true, description: 'Operating system type, e.g. linux2 (1 to 64 letters, digits, "_", ".", "-").' })
  osType?: string | null;
}

@InputType({ description: 'A new attachment (`createAttachment`); every problem with the input is reported at once as BAD_USER_INPUT.' })
export class CreateAttachmentInput {
  @Field(() => ID, { description: 'The volume to attach; visible to you (NOT_FOUND otherwise), AVAILABLE, or attached already and multiattach (INVALID_STATE otherwise).' })
  volumeId!: string;

  @Field({ description: 'The consumer (Cinder\'s instance_uuid): any id, 1 to 255 printable characters.' })
  instanceId!: string;

  @Field(() => ConnectorInput, { nullable: true, description: 'The consumer\'s connector: with it the volume is exported at once; without it the attachment stays RESERVED until `updateAttachment`.' })
  connector?: ConnectorInput | null;

  @Field(() => AttachModeEnum, { nullable: true, defaultValue: AttachModeEnum.RW, description: 'RW (default) or RO (the target refuses writes).' })
  mode?: AttachModeEnum | null;

  @Field(() => TargetKindEnum, {
    nullable: true,
    description:
      'ISCSI or NBD; BAD_USER_INPUT when the volume\'s pool does not offer it. Left out: the pool\'s default target (its `defaultTarget`, ISCSI unless configured), ' +
      'except that a connector without an initiator gets NBD when the pool offers it. A RESERVED attachment keeps the kind chosen here when `updateAttachment` gives its connector.',
  })
  targetKind?: TargetKindEnum | null;

  @Field(() => String, {
    nullable: true,
    description: 'Makes the create safe to retry (1 to 255 characters): the same key from the same project returns the first attachment and its operation. The same key with other parameters is CONFLICT. A key answers for one day after the create (FLINT_IDEMPOTENCY_TTL_SECONDS); after that the same key makes a new attachment; a key whose attachment is DETACHING or DETACHED is CONFLICT (use a new key).',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Gives a RESERVED attachment its connector (`updateAttachment`): the export starts.' })
export class UpdateAttachmentInput {
  @Field(() => ID, { description: 'Id of the attachment.' })
  id!: string;

  @Field(() => ConnectorInput, { description: 'The consumer\'s connector.' })
  connector!: ConnectorInput;
}

@InputType({ description: 'Which attachment (`completeAttachment`, `deleteAttachment`).' })
export class AttachmentIdInput {
  @Field(() => ID, { description: 'Id of the attachment.' })
  id!: string;
}

@InputType({ description: 'Admins: which attachment to force-detach and why (`forceDetach`).' })
export class ForceDetachInput {
  @Field(() => ID, { description: 'Id of the attachment.' })
  id!: string;

  @Field({ description: 'Why, for the audit trail: 1 to 1024 characters. Kept in `StatusAudit.reason`.' })
  reason!: string;
}
