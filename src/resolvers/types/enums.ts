import { registerEnumType } from 'type-graphql';

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
  DELETING = 'deleting',
  DELETED = 'deleted',
  ERROR = 'error',
  ERROR_DELETING = 'error_deleting',
  ERROR_EXTENDING = 'error_extending',
  ERROR_RESTORING = 'error_restoring',
}
registerEnumType(VolumeStatusEnum, {
  name: 'VolumeStatus',
  description: 'Where a volume is in its life, in Cinder\'s vocabulary. Transitional states end in a final one or an ERROR_* state.',
});

export enum OperationStatusEnum {
  PENDING = 'pending',
  RUNNING = 'running',
  SUCCEEDED = 'succeeded',
  FAILED = 'failed',
}
registerEnumType(OperationStatusEnum, { name: 'OperationStatus', description: 'Progress of an asynchronous operation.' });

export enum ServiceStateEnum {
  UP = 'UP',
  DOWN = 'DOWN',
}
registerEnumType(ServiceStateEnum, { name: 'ServiceState', description: 'UP while heartbeats arrive; DOWN after three missed.' });

export enum VolumeEventTypeEnum {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  DELETED = 'DELETED',
}
registerEnumType(VolumeEventTypeEnum, { name: 'VolumeEventType', description: 'What happened to a volume.' });

export enum RoleEnum {
  ADMIN = 'admin',
  MEMBER = 'member',
  READER = 'reader',
}
registerEnumType(RoleEnum, { name: 'Role', description: 'ADMIN sees and changes everything; MEMBER its project; READER only reads its project.' });
