import { registerEnumType } from 'type-graphql';
import { ERROR_CODE_MEANINGS, ERROR_CODES, type ErrorCode } from '../../domain/index.js';

/** GraphQL names in upper case; values are the stored (Cinder) names. */
export enum VolumeStatusEnum {
  CREATING = 'creating',
  AVAILABLE = 'available',
  RESERVED = 'reserved',
  ATTACHING = 'attaching',
  IN_USE = 'in_use',
  DETACHING = 'detaching',
  EXTENDING = 'extending',
  RETYPING = 'retyping',
  MAINTENANCE = 'maintenance',
  BACKING_UP = 'backing_up',
  RESTORING_BACKUP = 'restoring_backup',
  REVERTING = 'reverting',
  DELETING = 'deleting',
  DELETED = 'deleted',
  ERROR = 'error',
  ERROR_DELETING = 'error_deleting',
  ERROR_EXTENDING = 'error_extending',
  ERROR_RESTORING = 'error_restoring',
  AWAITING_TRANSFER = 'awaiting_transfer',
}
registerEnumType(VolumeStatusEnum, {
  name: 'VolumeStatus',
  description:
    'Where a volume is in its life, in Cinder\'s vocabulary. Transitional states (CREATING, EXTENDING, DELETING, …) end in a ' +
    'final one or in an ERROR_* state. Each mutation starts only from the states it names; from any other it fails with ' +
    'INVALID_STATE, naming the current state.',
  valuesConfig: {
    CREATING: { description: 'Being created: the scheduler is choosing a pool or the agent is making the image. Ends AVAILABLE or ERROR.' },
    AVAILABLE: { description: 'Ready: not attached, can be extended, updated or deleted.' },
    RESERVED: { description: 'Held by an attachment that is not exported yet (RESERVED) or failed (ERROR_*): delete that attachment to release it.' },
    ATTACHING: { description: 'An attachment is being exported or waits for `completeAttachment`.' },
    IN_USE: { description: 'Attached to a consumer (an attachment is ATTACHED). It can be extended; delete its attachments before deleting it.' },
    DETACHING: { description: 'An attachment\'s export is being removed (`deleteAttachment`).' },
    EXTENDING: { description: 'Growing to a new size (`extendVolume`). Ends AVAILABLE (at the new size, or at the old one when no pool had room) or ERROR_EXTENDING.' },
    AWAITING_TRANSFER: {
      description: 'Offered to another project (`createVolumeTransfer`): nothing else may be done to it until the transfer is accepted (it moves, AVAILABLE, to that project), cancelled or expired (AVAILABLE here).',
    },
    RETYPING: {
      description: 'Changing volume type (`retypeVolume`), in place or by a migration to another pool (`migrationStatus` shows it). Ends AVAILABLE, with the new type or unchanged when refused.',
    },
    MAINTENANCE: {
      description: 'Being migrated to another pool (`migrateVolume`); every other action waits. Ends AVAILABLE, on the new pool (`migrationStatus` SUCCESS) or on the old one (ERROR).',
    },
    BACKING_UP: { description: 'A backup is reading it (reserved for backups; not reached yet).' },
    RESTORING_BACKUP: { description: 'A backup is being written into it (reserved for backups; not reached yet).' },
    REVERTING: {
      description:
        'Being reverted to its latest snapshot (`revertVolumeToSnapshot`). Ends AVAILABLE with the snapshot\'s data, or ERROR (data not to be trusted; `Volume.messages` says why).',
    },
    DELETING: { description: 'Being deleted on its storage host (`deleteVolume`). Ends DELETED or ERROR_DELETING.' },
    DELETED: { description: 'Gone. Final: lists skip it unless the filter asks for DELETED, and `volumeChanged` ends with it.' },
    ERROR: { description: 'Creation failed; `Volume.messages` says why. Delete it and create another; it cannot be extended.' },
    ERROR_DELETING: { description: 'Deletion failed on the storage host; `Volume.messages` says why. Delete it again to retry.' },
    ERROR_EXTENDING: { description: 'Extension failed on the storage host; `Volume.messages` says why. It can be deleted, not extended again.' },
    ERROR_RESTORING: { description: 'Restoring a backup into it failed (reserved for backups). It can be deleted.' },
  },
});

export enum OperationStatusEnum {
  PENDING = 'pending',
  RUNNING = 'running',
  SUCCEEDED = 'succeeded',
  FAILED = 'failed',
}
registerEnumType(OperationStatusEnum, {
  name: 'OperationStatus',
  description: 'Progress of an asynchronous operation. PENDING and RUNNING are not final; SUCCEEDED and FAILED are.',
  valuesConfig: {
    PENDING: { description: 'Recorded and queued; no service has started it yet.' },
    RUNNING: { description: 'A scheduler or agent is working on it.' },
    SUCCEEDED: { description: 'Done; the resource is in its new state. Final.' },
    FAILED: { description: 'Did not succeed; `Operation.error` has the code and what to do. Final.' },
  },
});

export enum ServiceStateEnum {
  UP = 'UP',
  DOWN = 'DOWN',
}
registerEnumType(ServiceStateEnum, {
  name: 'ServiceState',
  description: 'Liveness of a service or pool, from its heartbeats (every FLINT_HEARTBEAT_SECONDS, default 5 s).',
  valuesConfig: {
    UP: { description: 'A heartbeat arrived within the last three heartbeat periods.' },
    DOWN: { description: 'Three heartbeat periods passed without one: the process is stopped, hung or cut off. The scheduler skips DOWN pools.' },
  },
});

export enum VolumeEventTypeEnum {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  DELETED = 'DELETED',
}
registerEnumType(VolumeEventTypeEnum, {
  name: 'VolumeEventType',
  description: 'What happened to a volume, in `volumeEvents`.',
  valuesConfig: {
    CREATED: { description: 'A volume was requested (`createVolume`); it is CREATING.' },
    UPDATED: { description: 'Anything else changed: status, size, name, description or metadata.' },
    DELETED: { description: 'The volume reached DELETED; no event about it follows.' },
  },
});

export enum SnapshotEventTypeEnum {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  DELETED = 'DELETED',
}
registerEnumType(SnapshotEventTypeEnum, {
  name: 'SnapshotEventType',
  description: 'What happened to a snapshot, in `snapshotEvents`.',
  valuesConfig: {
    CREATED: { description: 'A snapshot was requested (`createSnapshot`; it is CREATING), or came into your project with its volume (an accepted transfer).' },
    UPDATED: { description: 'Anything else changed: status, name, description or metadata.' },
    DELETED: { description: 'The snapshot reached DELETED, or left your project with its volume (a transfer); no event about it follows.' },
  },
});

export enum BackupEventTypeEnum {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  DELETED = 'DELETED',
}
registerEnumType(BackupEventTypeEnum, {
  name: 'BackupEventType',
  description: 'What happened to a backup, in `backupEvents`.',
  valuesConfig: {
    CREATED: { description: 'A backup was requested (`createBackup`; it is CREATING) or imported (`importBackupRecord`).' },
    UPDATED: { description: 'Anything else changed: status, progress, name or description.' },
    DELETED: { description: 'The backup reached DELETED; no event about it follows.' },
  },
});

export enum AttachmentEventTypeEnum {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  DELETED = 'DELETED',
}
registerEnumType(AttachmentEventTypeEnum, {
  name: 'AttachmentEventType',
  description: 'What happened to an attachment, in `attachmentEvents`.',
  valuesConfig: {
    CREATED: { description: 'An attachment was requested (`createAttachment`); it is RESERVED or ATTACHING.' },
    UPDATED: { description: 'Anything else changed: status, connector or connection info.' },
    DELETED: { description: 'The attachment reached DETACHED (an attachment is never removed: DETACHED is its end); no event about it follows.' },
  },
});

export enum RoleEnum {
  ADMIN = 'admin',
  MEMBER = 'member',
  READER = 'reader',
}
registerEnumType(RoleEnum, {
  name: 'Role',
  description: 'What a token may do; set when the token is made (`flint token create --role …`).',
  valuesConfig: {
    ADMIN: { description: 'Sees and changes everything in every project, and sees pools, services, hosts and private volume types.' },
    MEMBER: { description: 'Sees and changes the volumes of its own project.' },
    READER: { description: 'Only reads the volumes of its own project; every mutation is FORBIDDEN.' },
  },
});

/** GraphQL names in upper case; values are the stored names. */
export enum SnapshotStatusEnum {
  CREATING = 'creating',
  AVAILABLE = 'available',
  DELETING = 'deleting',
  DELETED = 'deleted',
  ERROR = 'error',
  ERROR_DELETING = 'error_deleting',
}
registerEnumType(SnapshotStatusEnum, {
  name: 'SnapshotStatus',
  description:
    'Where a snapshot is in its life, in Cinder\'s vocabulary. CREATING and DELETING end in a final state or in an ERROR state; ' +
    'each mutation starts only from the states it names, INVALID_STATE otherwise.',
  valuesConfig: {
    CREATING: { description: 'The agent holding the volume is taking the snapshot. Ends AVAILABLE or ERROR.' },
    AVAILABLE: { description: 'Taken: a point-in-time copy of the volume, kept on the volume\'s pool. Can be updated or deleted.' },
    DELETING: { description: 'Being deleted on its storage host (`deleteSnapshot`, or `deleteVolume` with `cascade: true`). Ends DELETED or ERROR_DELETING.' },
    DELETED: { description: 'Gone. Final: lists skip it unless the filter asks for DELETED, and `snapshotChanged` ends with it.' },
    ERROR: { description: 'Taking the snapshot failed; `Snapshot.messages` says why. Delete it and take another.' },
    ERROR_DELETING: { description: 'Deletion failed on the storage host; `Snapshot.messages` says why. Delete it again to retry.' },
  },
});

/**
 * The API's error codes (src/domain/errors.ts is the list), as the enum of `OperationError.code`;
 * a GraphQL error's `extensions.code` is one of the same values. Names and values are the codes.
 */
export const ErrorCodeEnum = Object.fromEntries(ERROR_CODES.map((c) => [c, c])) as { readonly [C in ErrorCode]: C };
registerEnumType(ErrorCodeEnum, {
  name: 'ErrorCode',
  description:
    'Why something failed, from one list for every failure of the API: a failed operation\'s `error.code` and a GraphQL error\'s `extensions.code`. ' +
    'Each value says whether trying again can succeed (`retryable`). A client should treat a code it does not know as INTERNAL.',
  valuesConfig: Object.fromEntries(ERROR_CODES.map((c) => [c, { description: ERROR_CODE_MEANINGS[c].description }])),
});
