import { Field, ID, InputType, ObjectType } from 'type-graphql';
import type { StatusAudit } from '../../db/index.js';
import { SnapshotStatusEnum, VolumeStatusEnum } from './enums.js';
import { OperationObject } from './operation.js';
import { SnapshotObject } from './snapshot.js';
import { relayConnection } from './relay.js';
import { VolumeObject } from './volume.js';

const REASON = 'Why, for the audit trail: 1 to 1024 characters, e.g. the ticket and what was checked on the host. Kept in `StatusAudit.reason`.';

@ObjectType('StatusAudit', {
  description:
    'A change made by hand by an admin (`resetVolumeStatus`, `resetSnapshotStatus`, `forceDeleteVolume`, `forceDetach`, `updateQuotaSet`, `syncQuotaUsage`): what, from which status to which, why and by whom. ' +
    'Written in the same transaction as the change; never edited. Admins only.',
})
export class StatusAuditObject {
  @Field(() => ID, { description: 'Id of the audit record (a UUID).' })
  id!: string;

  @Field({ description: 'Type of the resource changed: volume, snapshot, attachment, or quota_set (its resourceId is then the project\'s id).' })
  resourceType!: string;

  @Field(() => ID, { description: 'Id of the volume or snapshot changed (kept after it is deleted).' })
  resourceId!: string;

  @Field({ description: 'What was done: reset_status, force_delete, force_detach, update_quota_set or sync_quota_usage (the last two say what changed in `reason`).' })
  action!: string;

  @Field({ description: 'Its status before, spelled as in VolumeStatus or SnapshotStatus (e.g. ERROR); `-` for a quota set.' })
  fromStatus!: string;

  @Field({ description: 'Its status right after, e.g. AVAILABLE for a reset, DELETING (or DELETED when it was on no pool) for a force delete; `-` for a quota set.' })
  toStatus!: string;

  @Field(() => String, { nullable: true, description: 'The reason the admin gave; for a quota set, followed by what changed (`gigabytes 1000 → 100`, or the counters a recount corrected).' })
  reason!: string | null;

  @Field(() => ID, { description: 'Id of the API token that made the change.' })
  actorTokenId!: string;

  @Field(() => ID, { description: 'Id of the project of that token (the admin\'s project, not necessarily the resource\'s).' })
  actorProjectId!: string;

  @Field({ description: 'When the change was made (UTC, ISO 8601).' })
  createdAt!: Date;

  static from(a: StatusAudit): StatusAuditObject {
    return Object.assign(new StatusAuditObject(), {
      id: a.id,
      resourceType: a.resourceType,
      resourceId: a.resourceId,
      action: a.action,
      fromStatus: a.fromStatus.toUpperCase(),
      toStatus: a.toStatus.toUpperCase(),
      reason: a.reason,
      actorTokenId: a.actorTokenId,
      actorProjectId: a.actorProjectId,
      createdAt: new Date(a.createdAt),
    });
  }
}

const statusAuditPage = relayConnection(StatusAuditObject, { name: 'StatusAudit', one: 'status audit record', many: 'status audit records', order: 'newest first' });
export const StatusAuditConnection = statusAuditPage.Connection;
export type StatusAuditConnection = InstanceType<typeof StatusAuditConnection>;

@InputType({ description: 'Conditions an audit record must meet; all given ones apply.' })
export class StatusAuditFilter {
  @Field(() => String, { nullable: true, description: 'Only records about this type of resource: volume or snapshot (anything else is BAD_USER_INPUT).' })
  resourceType?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only records about the volume or snapshot with this id.' })
  resourceId?: string | null;
}

@InputType({ description: 'Which volume to reset and to what (`resetVolumeStatus`).' })
export class ResetVolumeStatusInput {
  @Field(() => ID, { description: 'Id of the volume, in any project.' })
  id!: string;

  @Field(() => VolumeStatusEnum, {
    description:
      'The status to record: AVAILABLE (only for a volume placed on a pool) or an ERROR state. Attachment states (Flint has no attachments yet), ' +
      'transitional states (a reset starts no work) and DELETED (use `forceDeleteVolume`) are BAD_USER_INPUT.',
  })
  status!: VolumeStatusEnum;

  @Field({ description: REASON })
  reason!: string;
}

@InputType({ description: 'Which snapshot to reset and to what (`resetSnapshotStatus`).' })
export class ResetSnapshotStatusInput {
  @Field(() => ID, { description: 'Id of the snapshot, in any project.' })
  id!: string;

  @Field(() => SnapshotStatusEnum, {
    description: 'The status to record: AVAILABLE, ERROR or ERROR_DELETING. CREATING, DELETING (a reset starts no work) and DELETED (use `deleteSnapshot`) are BAD_USER_INPUT.',
  })
  status!: SnapshotStatusEnum;

  @Field({ description: REASON })
  reason!: string;
}

@InputType({ description: 'Which volume to force-delete, and why (`forceDeleteVolume`).' })
export class ForceDeleteVolumeInput {
  @Field(() => ID, { description: 'Id of the volume, in any project and any status but DELETED.' })
  id!: string;

  @Field({ description: REASON })
  reason!: string;
}

@ObjectType({ description: 'The volume with its new status, and the audit record of the reset.' })
export class ResetVolumeStatusPayload {
  @Field(() => VolumeObject, { description: 'The volume as the reset left it (its `version` incremented).' })
  volume!: VolumeObject;

  @Field(() => StatusAuditObject, { description: 'The audit record written with the change.' })
  audit!: StatusAuditObject;
}

@ObjectType({ description: 'The snapshot with its new status, and the audit record of the reset.' })
export class ResetSnapshotStatusPayload {
  @Field(() => SnapshotObject, { description: 'The snapshot as the reset left it (its `version` incremented).' })
  snapshot!: SnapshotObject;

  @Field(() => StatusAuditObject, { description: 'The audit record written with the change.' })
  audit!: StatusAuditObject;
}

@ObjectType({ description: 'The volume (DELETING, or DELETED when it was on no pool), the operation deleting it, and the audit record.' })
export class ForceDeleteVolumePayload {
  @Field(() => VolumeObject, { description: 'The volume as the force delete left it.' })
  volume!: VolumeObject;

  @Field(() => OperationObject, { description: 'The delete_volume operation; follow it with `operation(id)` or the volume with `volumeChanged` until it ends.' })
  operation!: OperationObject;

  @Field(() => StatusAuditObject, { description: 'The audit record written with the change.' })
  audit!: StatusAuditObject;
}
