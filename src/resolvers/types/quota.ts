/** Quota sets (issue 12): limits with what a project holds against them, and an admin's changes. */
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { QuotaCorrection, QuotaLine, QuotaSetView } from '../ports/quotas.js';
import { StatusAuditObject } from './admin.js';

const LIMIT_INPUT = 'New limit: an integer, -1 for no limit, null to go back to the default; omit it to leave it as it is.';

@ObjectType('QuotaUsage', { description: 'One limit and what is held against it. A create fits while `inUse + reserved + requested <= limit`.' })
export class QuotaUsageObject {
  @Field(() => Int, { description: 'The limit; -1 means no limit.' })
  limit!: number;

  @Field(() => Int, { description: 'What is held by resources whose work has ended (AVAILABLE, IN_USE, ERROR…, until DELETED). For perVolumeGigabytes: the largest volume\'s size.' })
  inUse!: number;

  @Field(() => Int, { description: 'What is held by work under way: volumes, snapshots and backups being created, extends (the growth), retypes (in the new type).' })
  reserved!: number;

  @Field(() => Int, { nullable: true, description: 'What may still be asked for: limit − inUse − reserved (0 when over); null when there is no limit.' })
  available!: number | null;

  static from(l: QuotaLine, additive = true): QuotaUsageObject {
    const available = l.limit === -1 ? null : Math.max(0, l.limit - (additive ? l.inUse + l.reserved : 0));
    return Object.assign(new QuotaUsageObject(), { ...l, available });
  }
}

@ObjectType('VolumeTypeQuota', { description: 'The limits of one volume type in a project (Cinder\'s volumes_<type> and gigabytes_<type>).' })
export class VolumeTypeQuotaObject {
  @Field({ description: 'Name of the volume type.' })
  volumeType!: string;

  @Field(() => QuotaUsageObject, { description: 'Volumes of this type.' })
  volumes!: QuotaUsageObject;

  @Field(() => QuotaUsageObject, { description: 'GiB of volumes of this type.' })
  gigabytes!: QuotaUsageObject;
}

@ObjectType('QuotaSet', {
  description:
    'A project\'s quota: each limit with what is in use and reserved. Limits come from the defaults (FLINT_QUOTA_DEFAULTS) unless an admin set the project\'s own (`updateQuotaSet`). ' +
    'A create, extend, snapshot, backup, retype or transfer over a limit is QUOTA_EXCEEDED, with the resource, requested, inUse, reserved and limit in `extensions`.',
})
export class QuotaSetObject {
  @Field(() => ID, { description: 'Id of the project.' })
  projectId!: string;

  @Field({ description: 'Name of the project.' })
  projectName!: string;

  @Field(() => QuotaUsageObject, { description: 'Volumes, not counting DELETED ones.' })
  volumes!: QuotaUsageObject;

  @Field(() => QuotaUsageObject, { description: 'GiB of volumes and of snapshots (a snapshot counts its volume\'s size, as in Cinder).' })
  gigabytes!: QuotaUsageObject;

  @Field(() => QuotaUsageObject, { description: 'Snapshots.' })
  snapshots!: QuotaUsageObject;

  @Field(() => QuotaUsageObject, { description: 'Backups.' })
  backups!: QuotaUsageObject;

  @Field(() => QuotaUsageObject, { description: 'GiB of backups (each counts its volume\'s size when it was taken).' })
  backupGigabytes!: QuotaUsageObject;

  @Field(() => QuotaUsageObject, { description: 'Largest size of one volume, GiB; `inUse` is the largest volume the project has.' })
  perVolumeGigabytes!: QuotaUsageObject;

  @Field(() => [VolumeTypeQuotaObject], { description: 'Volume types with limits of their own or with volumes in this project, by name.' })
  volumeTypes!: VolumeTypeQuotaObject[];

  @Field({ description: 'True when the project has no limits of its own: every limit is a default.' })
  usesDefaults!: boolean;

  static from(v: QuotaSetView): QuotaSetObject {
    return Object.assign(new QuotaSetObject(), {
      projectId: v.projectId,
      projectName: v.projectName,
      volumes: QuotaUsageObject.from(v.lines.volumes),
      gigabytes: QuotaUsageObject.from(v.lines.gigabytes),
      snapshots: QuotaUsageObject.from(v.lines.snapshots),
      backups: QuotaUsageObject.from(v.lines.backups),
      backupGigabytes: QuotaUsageObject.from(v.lines.backupGigabytes),
      perVolumeGigabytes: QuotaUsageObject.from(v.lines.perVolumeGigabytes, false),
      volumeTypes: v.volumeTypes.map((t) => Object.assign(new VolumeTypeQuotaObject(), { volumeType: t.volumeType, volumes: QuotaUsageObject.from(t.volumes), gigabytes: QuotaUsageObject.from(t.gigabytes) })),
      usesDefaults: v.usesDefaults,
    });
  }
}

@InputType({ description: 'New limits of one volume type in the project.' })
export class VolumeTypeQuotaInput {
  @Field({ description: 'Name of the volume type (it need not exist yet).' })
  volumeType!: string;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  volumes?: number | null;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  gigabytes?: number | null;
}

@InputType({ description: 'A project\'s new limits (`updateQuotaSet`): only the limits given change.' })
export class UpdateQuotaSetInput {
  @Field(() => ID, { description: 'Id of the project (`viewer.projectId` of one of its tokens, or `apiTokens`).' })
  projectId!: string;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  volumes?: number | null;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  gigabytes?: number | null;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  snapshots?: number | null;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  backups?: number | null;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  backupGigabytes?: number | null;

  @Field(() => Int, { nullable: true, description: LIMIT_INPUT })
  perVolumeGigabytes?: number | null;

  @Field(() => [VolumeTypeQuotaInput], { nullable: true, description: 'Limits of volume types in this project.' })
  volumeTypes?: VolumeTypeQuotaInput[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Set limits below what the project holds now (default false: INVALID_STATE names them). New creates are then refused until usage drops.' })
  force?: boolean | null;

  @Field(() => String, { nullable: true, description: 'Why, for the audit trail (1 to 1024 characters); optional.' })
  reason?: string | null;
}

@ObjectType('UpdateQuotaSetPayload', { description: 'The project\'s quota set after the change, and its audit record.' })
export class UpdateQuotaSetPayload {
  @Field(() => QuotaSetObject, { description: 'The project\'s quota set with the new limits.' })
  quotaSet!: QuotaSetObject;

  @Field(() => StatusAuditObject, { description: 'The audit record (action update_quota_set); `reason` says what changed.' })
  audit!: StatusAuditObject;
}

@InputType({ description: 'Which project to recount (`syncQuotaUsage`).' })
export class SyncQuotaUsageInput {
  @Field(() => ID, { description: 'Id of the project.' })
  projectId!: string;

  @Field(() => String, { nullable: true, description: 'Why, for the audit trail (1 to 1024 characters); optional.' })
  reason?: string | null;
}

@ObjectType('QuotaCorrection', { description: 'One counter a recount changed: what it said before and what the tables say.' })
export class QuotaCorrectionObject {
  @Field({ description: 'volumes, gigabytes, snapshots, backups or backupGigabytes.' })
  resource!: string;

  @Field(() => String, { nullable: true, description: 'The volume type, for a type\'s own counter.' })
  volumeType!: string | null;

  @Field(() => Int, { description: 'What the counter said was in use.' })
  inUseBefore!: number;

  @Field(() => Int, { description: 'What the tables say is in use.' })
  inUseAfter!: number;

  @Field(() => Int, { description: 'What the counter said was reserved.' })
  reservedBefore!: number;

  @Field(() => Int, { description: 'What the tables say is reserved.' })
  reservedAfter!: number;

  static from(c: QuotaCorrection): QuotaCorrectionObject {
    return Object.assign(new QuotaCorrectionObject(), c);
  }
}

@ObjectType('SyncQuotaUsagePayload', { description: 'The recounted quota set, what changed, and the audit record.' })
export class SyncQuotaUsagePayload {
  @Field(() => QuotaSetObject, { description: 'The project\'s quota set as recounted.' })
  quotaSet!: QuotaSetObject;

  @Field(() => [QuotaCorrectionObject], { description: 'Counters that had drifted from the tables; empty when they matched.' })
  corrections!: QuotaCorrectionObject[];

  @Field(() => StatusAuditObject, { description: 'The audit record (action sync_quota_usage).' })
  audit!: StatusAuditObject;
}
