import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { BackupView } from '../../bus/index.js';
import type { Backup } from '../../db/index.js';
import { Node } from './node.js';
import { OperationObject } from './operation.js';
import { resourcePayload } from './payload.js';
import { relayConnection } from './relay.js';
import { VolumeObject } from './volume.js';
import { BackupEventTypeEnum } from './enums.js';

/** GraphQL names in upper case; values are the stored names. */
export enum BackupStatusEnum {
  CREATING = 'creating',
  AVAILABLE = 'available',
  DELETING = 'deleting',
  DELETED = 'deleted',
  RESTORING = 'restoring',
  ERROR = 'error',
  ERROR_DELETING = 'error_deleting',
}
registerEnumType(BackupStatusEnum, {
  name: 'BackupStatus',
  description:
    'Where a backup is in its life, in Cinder\'s vocabulary. CREATING, RESTORING and DELETING end in a final state or in an ERROR state; ' +
    'each mutation starts only from the states it names, INVALID_STATE otherwise.',
  valuesConfig: {
    CREATING: { description: 'The agent holding the volume is reading it into the backup repository (`backupProgress` follows it). Ends AVAILABLE or ERROR; `deleteBackup` cancels it.' },
    AVAILABLE: { description: 'Complete: can be restored, verified, exported, used as the parent of an incremental backup, or deleted.' },
    DELETING: { description: 'Being removed from the repository (or being cancelled, when it was CREATING). Ends DELETED or ERROR_DELETING.' },
    DELETED: { description: 'Gone, with every chunk no other backup uses. Final: lists skip it unless the filter asks for DELETED.' },
    RESTORING: { description: 'Being written into a volume (`restoreBackup`). Ends AVAILABLE whether the restore succeeded or not: the volume\'s status says that.' },
    ERROR: { description: 'Taking (or importing) the backup failed; `Backup.messages` says why. Delete it and take another.' },
    ERROR_DELETING: { description: 'Removing it from the repository failed; `Backup.messages` says why. Delete it again to retry.' },
  },
});

export enum BackupPhaseEnum {
  BACKUP = 'backup',
  RESTORE = 'restore',
}
registerEnumType(BackupPhaseEnum, {
  name: 'BackupPhase',
  description: 'What a backup\'s running work is, in `backupProgress`.',
  valuesConfig: {
    BACKUP: { description: 'Reading the volume into the repository (the backup is CREATING).' },
    RESTORE: { description: 'Writing the backup into a volume (the backup is RESTORING).' },
  },
});

/** GraphQL names in upper case; values as the agent records them. */
export enum BackupChangeTrackingEnum {
  DIRTY_BITMAP = 'dirty-bitmap',
  RBD_DIFF = 'rbd-diff',
  COMPARE = 'compare',
  FULL = 'full',
}
registerEnumType(BackupChangeTrackingEnum, {
  name: 'BackupChangeTracking',
  description: 'How the agent found what changed since the parent backup, so what it had to read.',
  valuesConfig: {
    DIRTY_BITMAP: {
      description:
        'A qcow2 volume\'s persistent dirty bitmap, added by the parent backup, told which chunks were written since: only those were read; the others are the parent\'s (same bytes).',
    },
    RBD_DIFF: {
      description:
        'An rbd volume: `rbd diff` from the rbd snapshot the parent backup kept to the one this backup read listed the extents written since: only the chunks they touch were read; the others are the parent\'s (same bytes).',
    },
    COMPARE: {
      description:
        'Every allocated chunk was read and hashed; only those the repository lacked were stored. For raw volumes, snapshots, forced backups, and when the parent left no usable bitmap or rbd snapshot (the agent\'s log says why).',
    },
    FULL: { description: 'No parent: every allocated chunk was read.' },
  },
});

@ObjectType('Backup', {
  implements: Node,
  description:
    'A copy of a volume\'s bytes in a backup repository (a directory or the NATS object store), kept apart from the volume\'s pool and outliving the volume: ' +
    'content-addressed chunks (sha256, compressed, zero chunks not stored) shared by every backup that has them, and a manifest. ' +
    'Any backup, full or incremental, can be restored or deleted on its own. It belongs to the volume\'s project.',
})
export class BackupObject extends Node {
  @Field({ description: 'Name for people, 1 to 255 characters; not necessarily unique.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free text for people; null when none was given.' })
  description!: string | null;

  @Field(() => BackupStatusEnum, { description: 'Where it is in its life: AVAILABLE once taken; see BackupStatus.' })
  status!: BackupStatusEnum;

  @Field(() => ID, { description: 'Id of the volume it is a backup of (kept after the volume is deleted).' })
  volumeId!: string;

  @Field(() => ID, { nullable: true, description: 'Id of the snapshot whose bytes it holds, when it was taken from one; null otherwise.' })
  snapshotId!: string | null;

  @Field(() => Int, { description: 'Size of the volume when it was backed up, GiB: a volume restored from it needs at least this.' })
  sizeGiB!: number;

  @Field(() => Float, { nullable: true, description: 'Size of the volume when it was backed up, bytes; null until AVAILABLE.' })
  sizeBytes!: number | null;

  @Field(() => Float, { nullable: true, description: 'Non-zero bytes the backup holds (its data), before compression; null until AVAILABLE.' })
  dataBytes!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Bytes this backup added to the repository: new chunks, compressed. Small for an incremental backup of a volume that changed little. Null until AVAILABLE.',
  })
  storedBytes!: number | null;

  @Field(() => Float, { nullable: true, description: 'Bytes of data the repository already had (from any backup), so not stored again; null until AVAILABLE.' })
  dedupBytes!: number | null;

  @Field(() => Float, { nullable: true, description: 'How long taking it took, seconds; null until AVAILABLE.' })
  durationSeconds!: number | null;

  @Field(() => BackupChangeTrackingEnum, { nullable: true, description: 'How the agent found what changed since the parent (so what it read); null until AVAILABLE, and for backups of older agents.' })
  changeTracking!: BackupChangeTrackingEnum | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Bytes the agent read from the volume to take it: allocated data only, and with DIRTY_BITMAP only the chunks written since the parent. Null until AVAILABLE, and for backups of older agents.',
  })
  readBytes!: number | null;

  @Field({ description: 'Whether it is incremental: compared with `parent`, it stored only the chunks that parent did not have. It does not depend on the parent: either can be deleted.' })
  isIncremental!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'Why a backup asked to be incremental is full: the volume had no AVAILABLE backup to compare with. Null otherwise.',
  })
  incrementalNote!: string | null;

  @Field(() => ID, { nullable: true, description: 'Id of the backup it was compared with (incremental); null for a full backup.' })
  parentId!: string | null;

  @Field({ description: 'Whether it was taken with `force` from an IN_USE volume, through a temporary snapshot.' })
  forced!: boolean;

  @Field({ description: 'The backup repository holding it: `dir:/path` or `nats:<bucket>` (FLINT_BACKUP_REPOSITORY of the agent that took it).' })
  repository!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Identity of that repository (a UUID stored inside it; agents that mount the same share or use the same NATS bucket report the same one). ' +
      'A restore into a new volume is placed on a host whose agent reaches it. Null until AVAILABLE, and for backups recorded before repository identities existed.',
  })
  repositoryId!: string | null;

  @Field(() => String, { nullable: true, description: 'sha256 of the whole volume\'s bytes (zeros included), hex: compare with `sha256sum` of a restored raw image. Null until AVAILABLE.' })
  sha256!: string | null;

  @Field(() => Int, { nullable: true, description: 'Chunks it references; null until AVAILABLE.' })
  chunkCount!: number | null;

  @Field(() => Int, { nullable: true, description: 'Chunk size, bytes (FLINT_BACKUP_CHUNK_MIB of the agent); null until AVAILABLE.' })
  chunkSize!: number | null;

  @Field(() => String, { nullable: true, description: 'Compression of its new chunks (e.g. lz4; each chunk records its own, raw when compressing did not help). Null until AVAILABLE.' })
  codec!: string | null;

  @Field(() => ID, { nullable: true, description: 'The volume it is being restored into while RESTORING; null otherwise.' })
  restoreVolumeId!: string | null;

  @Field(() => Int, { description: 'Starts at 1 and grows by one on every change; pass it as `expectedVersion` to change only what you read.' })
  version!: number;

  @Field(() => Float, {
    description:
      'The seq of its latest change in its project\'s change feed (an integer, exact to 2^53; Float because it can pass GraphQL\'s 32-bit Int). ' +
      'Compare it with a list\'s `changeSeq`; see `backupEvents(sinceSeq:)`.',
  })
  changeSeq!: number;

  @Field(() => String, { nullable: true, description: 'The `idempotencyKey` it was created with, so a tool can find what its key made; null when none was given, or once the key expired (FLINT_IDEMPOTENCY_TTL_SECONDS after the create, one day by default) and was given to a new create.' })
  idempotencyKey!: string | null;

  @Field({ description: 'When it was requested (UTC, ISO 8601).' })
  createdAt!: Date;

  @Field({ description: 'When it last changed (UTC, ISO 8601).' })
  updatedAt!: Date;

  /** Not fields. */
  projectIdValue!: string;
  hostValue!: string | null;
  poolValue!: string | null;

  static fromView(v: BackupView): BackupObject {
    return Object.assign(new BackupObject(), {
      id: v.id,
      name: v.name,
      description: v.description,
      status: v.status as BackupStatusEnum,
      volumeId: v.volumeId,
      snapshotId: v.snapshotId,
      sizeGiB: v.sizeGiB,
      sizeBytes: v.sizeBytes,
      dataBytes: v.dataBytes,
      storedBytes: v.storedBytes,
      dedupBytes: v.dedupBytes,
      durationSeconds: v.durationMs === null ? null : v.durationMs / 1000,
      changeTracking: (v.changeTracking ?? null) as BackupChangeTrackingEnum | null,
      readBytes: v.readBytes ?? null,
      isIncremental: v.incremental,
      incrementalNote: v.fullReason,
      parentId: v.parentId,
      forced: v.forced,
      repository: v.repository,
      repositoryId: v.repositoryId ?? null,
      sha256: v.sha256,
      chunkCount: v.chunkCount,
      chunkSize: v.chunkSize,
      codec: v.codec,
      restoreVolumeId: v.restoreVolumeId,
      version: v.version,
      changeSeq: v.changeSeq ?? 0,
      idempotencyKey: v.idempotencyKey ?? null,
      createdAt: new Date(v.createdAt),
      updatedAt: new Date(v.updatedAt),
      projectIdValue: v.projectId,
      hostValue: v.host,
      poolValue: v.pool,
    });
  }

  static from(b: Backup, toView: (b: Backup) => BackupView): BackupObject {
    return BackupObject.fromView(toView(b));
  }
}

@ObjectType('BackupProgress', { description: 'How far a backup\'s running work (taking or restoring it) has come, as `backupProgress` reports it.' })
export class BackupProgressObject {
  @Field(() => ID, { description: 'Id of the backup.' })
  backupId!: string;

  @Field(() => BackupStatusEnum, { description: 'The backup\'s status; the last report of a subscription is the first with a status other than CREATING or RESTORING.' })
  status!: BackupStatusEnum;

  @Field(() => BackupPhaseEnum, { description: 'BACKUP or RESTORE.' })
  phase!: BackupPhaseEnum;

  @Field(() => Float, { description: 'Bytes of the volume done so far (read for a backup, written for a restore).' })
  doneBytes!: number;

  @Field(() => Float, { description: 'Bytes to do in all: the volume\'s size.' })
  totalBytes!: number;

  @Field(() => Float, { description: 'doneBytes / totalBytes, 0 to 100, one decimal.' })
  percent!: number;

  @Field(() => Float, { description: 'Average rate since the work started, bytes per second.' })
  bytesPerSecond!: number;

  @Field({ description: 'When the agent measured it (UTC, ISO 8601).' })
  at!: Date;
}

const backupPage = relayConnection(BackupObject, { name: 'Backup', one: 'backup', many: 'backups', order: 'oldest first', changeFeed: 'backupEvents' });
export const BackupConnection = backupPage.Connection;
export type BackupConnection = InstanceType<typeof BackupConnection>;

@InputType({ description: 'Conditions a backup must meet; all given ones apply.' })
export class BackupFilter {
  @Field(() => [BackupStatusEnum], { nullable: true, description: 'Any of these statuses (default: all but DELETED).' })
  status?: BackupStatusEnum[];

  @Field(() => ID, { nullable: true, description: 'Only backups of this volume.' })
  volumeId?: string;

  @Field({ nullable: true, description: 'Exact name.' })
  name?: string;

  @Field(() => ID, {
    nullable: true,
    description:
      'Only backups of this project (admins: any project). For other tokens it only narrows their own project: another project\'s id matches nothing (no error, as for the other conditions).',
  })
  projectId?: string;
}

@ObjectType('BackupEvent', { description: 'A change of a backup, as `backupEvents` sends it.' })
export class BackupEventObject {
  @Field(() => BackupEventTypeEnum, { description: 'CREATED, UPDATED or DELETED.' })
  type!: BackupEventTypeEnum;

  @Field(() => BackupObject, { description: 'The backup after the change (in a replay: as it is now).' })
  backup!: BackupObject;
}

@InputType({ description: 'A new backup of a volume (`createBackup`); every problem with the input is reported at once as BAD_USER_INPUT.' })
export class CreateBackupInput {
  @Field(() => ID, { description: 'Id of the volume to back up; it must be visible to you (NOT_FOUND otherwise), AVAILABLE, or IN_USE with `force`.' })
  volumeId!: string;

  @Field(() => ID, { nullable: true, description: 'Back up the bytes of this AVAILABLE snapshot of the volume instead of its current bytes; default none.' })
  snapshotId?: string | null;

  @Field(() => String, { nullable: true, description: 'Name for people, 1 to 255 characters without control characters; default "backup of <volume name>".' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'Free text for people, up to 1024 characters; default none.' })
  description?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description:
      'Compare with the volume\'s latest AVAILABLE backup and store only what it lacks. Without such a backup it is a full backup and `incrementalNote` says so (not an error).',
  })
  incremental?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: 'Allow an IN_USE (attached) volume: the agent backs up a temporary snapshot it takes and removes. Without it an IN_USE volume is INVALID_STATE.',
  })
  force?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: 'Makes the create safe to retry (1 to 255 characters): the same key from the same project returns the first backup and its operation. The same key with other parameters is CONFLICT. A key answers for one day after the create (FLINT_IDEMPOTENCY_TTL_SECONDS); after that the same key makes a new backup; a key whose backup has been deleted is CONFLICT (use a new key).',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Which backup to restore and where (`restoreBackup`).' })
export class RestoreBackupInput {
  @Field(() => ID, { description: 'Id of the AVAILABLE backup to restore.' })
  backupId!: string;

  @Field(() => ID, {
    nullable: true,
    description: 'Restore into this AVAILABLE volume of the backup\'s project, of at least the backup\'s size (BAD_USER_INPUT otherwise); its bytes are overwritten. Omit to restore into a new volume.',
  })
  volumeId?: string | null;

  @Field(() => String, { nullable: true, description: 'Name of the new volume (only without volumeId); default "restore of <backup name>".' })
  name?: string | null;
}

@InputType({ description: 'Which backup to delete (`deleteBackup`).' })
export class DeleteBackupInput {
  @Field(() => ID, { description: 'Id of the backup.' })
  id!: string;

  @Field(() => Int, { nullable: true, description: 'Optimistic concurrency: the backup\'s `version` as you last read it; CONFLICT when it changed since. Omit to delete regardless.' })
  expectedVersion?: number | null;
}

@InputType({ description: 'Which backup to verify (`verifyBackup`).' })
export class VerifyBackupInput {
  @Field(() => ID, { description: 'Id of the AVAILABLE backup.' })
  id!: string;
}

@InputType({ description: 'A backup record from another Flint (`importBackupRecord`).' })
export class ImportBackupRecordInput {
  @Field({ description: 'The string `exportBackupRecord` returned there, unchanged.' })
  record!: string;
}

@ObjectType({ description: 'The backup and the operation a backup mutation started.' })
export class BackupPayload {
  @Field(() => BackupObject, { description: 'The backup as the mutation left it.' })
  backup!: BackupObject;

  @Field(() => OperationObject, { description: 'The work started; follow it with `operation(id)`, or the backup with `backupChanged`/`backupProgress`, until it ends. A failed `verifyBackup` names the first bad chunk in `error.message`.' })
  operation!: OperationObject;
}

export const DeleteBackupPayload = resourcePayload(
  'DeleteBackupPayload',
  'The backup (DELETING, or DELETED when it was already) and the operation deleting it.',
  { field: 'backup', type: () => BackupObject, follow: '`backupChanged`' },
  'delete',
);

@ObjectType({ description: 'What `restoreBackup` started: the backup (RESTORING), the volume restored into, and the operation.' })
export class RestoreBackupPayload {
  @Field(() => BackupObject, { description: 'The backup, RESTORING until the restore ends.' })
  backup!: BackupObject;

  @Field(() => VolumeObject, { description: 'The volume restored into: RESTORING_BACKUP, or CREATING when it is a new one (it goes RESTORING_BACKUP once created), then AVAILABLE or ERROR_RESTORING.' })
  volume!: VolumeObject;

  @Field(() => OperationObject, { description: 'The restore; it ends SUCCEEDED or FAILED with the reason.' })
  operation!: OperationObject;
}
