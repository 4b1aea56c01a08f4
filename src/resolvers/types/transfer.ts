/** Volume transfers (issue 12): offering a volume to another project, and taking it. */
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import type { VolumeTransfer } from '../../db/index.js';
import { relayConnection } from './relay.js';
import { VolumeObject } from './volume.js';

export enum TransferStatusEnum {
  PENDING = 'pending',
  ACCEPTED = 'accepted',
  CANCELLED = 'cancelled',
  EXPIRED = 'expired',
}
registerEnumType(TransferStatusEnum, {
  name: 'VolumeTransferStatus',
  description: 'PENDING until accepted (ACCEPTED), cancelled by its project (CANCELLED) or past its expiry (EXPIRED).',
  valuesConfig: {
    PENDING: { description: 'Waiting for a project to accept it; the volume is AWAITING_TRANSFER.' },
    ACCEPTED: { description: 'Accepted: the volume and its snapshots belong to `acceptedProjectId`.' },
    CANCELLED: { description: 'Cancelled by its project (`deleteVolumeTransfer`); the volume stayed.' },
    EXPIRED: { description: 'Nobody accepted it before `expiresAt`; the volume stayed.' },
  },
});

@ObjectType('VolumeTransfer', { description: 'A volume offered to another project (Cinder\'s volume transfer). Its authKey is shown only by createVolumeTransfer.' })
export class VolumeTransferObject {
  @Field(() => ID, { description: 'Id of the transfer: give it, with the authKey, to the receiving project.' })
  id!: string;

  @Field({ description: 'Its name.' })
  name!: string;

  @Field(() => ID, { description: 'The volume offered.' })
  volumeId!: string;

  @Field(() => ID, { description: 'The giving project.' })
  projectId!: string;

  @Field(() => TransferStatusEnum, { description: 'PENDING, ACCEPTED, CANCELLED or EXPIRED.' })
  status!: TransferStatusEnum;

  @Field(() => ID, { nullable: true, description: 'The project that accepted it.' })
  acceptedProjectId!: string | null;

  @Field({ description: 'When it was created (UTC).' })
  createdAt!: Date;

  @Field({ description: 'After this instant it can no longer be accepted; it then ends EXPIRED and the volume is AVAILABLE again (FLINT_TRANSFER_EXPIRY_SECONDS).' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was accepted, cancelled or expired.' })
  finishedAt!: Date | null;

  static from(t: VolumeTransfer): VolumeTransferObject {
    return Object.assign(new VolumeTransferObject(), {
      id: t.id,
      name: t.name,
      volumeId: t.volumeId,
      projectId: t.projectId,
      status: t.status as TransferStatusEnum,
      acceptedProjectId: t.acceptedProjectId,
      createdAt: new Date(t.createdAt),
      expiresAt: new Date(t.expiresAt),
      finishedAt: t.finishedAt ? new Date(t.finishedAt) : null,
    });
  }
}

const transferPage = relayConnection(VolumeTransferObject, { name: 'VolumeTransfer', one: 'volume transfer', many: 'volume transfers', order: 'newest first' });
export const VolumeTransferConnection = transferPage.Connection;
export type VolumeTransferConnection = InstanceType<typeof VolumeTransferConnection>;

@InputType({ description: 'The volume to offer (`createVolumeTransfer`).' })
export class CreateVolumeTransferInput {
  @Field(() => ID, { description: 'An AVAILABLE volume of your project without attachments.' })
  volumeId!: string;

  @Field(() => String, { nullable: true, description: 'A name for the transfer (default "transfer of <volume name>").' })
  name?: string | null;
}

@ObjectType({ description: 'The transfer, its key (this once) and the volume, now AWAITING_TRANSFER.' })
export class CreateVolumeTransferPayload {
  @Field(() => VolumeTransferObject, { description: 'The transfer, PENDING.' })
  transfer!: VolumeTransferObject;

  @Field({ description: 'The key the receiving project must give to acceptVolumeTransfer. Shown only here: Flint keeps its sha256.' })
  authKey!: string;

  @Field(() => VolumeObject, { description: 'The volume, AWAITING_TRANSFER.' })
  volume!: VolumeObject;
}

@InputType({ description: 'The transfer to accept and its key (`acceptVolumeTransfer`).' })
export class AcceptVolumeTransferInput {
  @Field(() => ID, { description: 'Id of the transfer, from the giving project.' })
  transferId!: string;

  @Field({ description: 'The key createVolumeTransfer returned to the giving project.' })
  authKey!: string;
}

@ObjectType({ description: 'The ended transfer and the volume, now AVAILABLE in your project.' })
export class AcceptVolumeTransferPayload {
  @Field(() => VolumeTransferObject, { description: 'The transfer, ACCEPTED.' })
  transfer!: VolumeTransferObject;

  @Field(() => VolumeObject, { description: 'The volume, AVAILABLE in your project.' })
  volume!: VolumeObject;
}

@InputType({ description: 'The transfer to cancel (`deleteVolumeTransfer`).' })
export class DeleteVolumeTransferInput {
  @Field(() => ID, { description: 'Id of the pending transfer.' })
  id!: string;
}

@ObjectType({ description: 'The cancelled transfer and the volume, AVAILABLE again; or the transfer as it ended, when it had ended already.' })
export class DeleteVolumeTransferPayload {
  @Field(() => VolumeTransferObject, { description: 'The transfer, CANCELLED (or as it had ended: see `alreadyDeleted`).' })
  transfer!: VolumeTransferObject;

  @Field(() => VolumeObject, { nullable: true, description: 'The volume; null when it was no longer AWAITING_TRANSFER (an admin reset it), or the transfer had ended already.' })
  volume!: VolumeObject | null;

  @Field(() => Boolean, {
    description:
      'True when the transfer had ended before this request (its `status` says how: CANCELLED, EXPIRED or ACCEPTED): nothing was done, and that is success (deletes are idempotent).',
  })
  alreadyDeleted!: boolean;
}
