/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** A new snapshot of a volume (`createSnapshot`); every problem with the input is reported at once as BAD_USER_INPUT. */
export type CreateSnapshotInput = {
  /** Free text for people, up to 1024 characters; default none. */
  description?: string | null | undefined;
  /** Snapshot an IN_USE (attached) volume too, as Cinder's `force` does; accepted once attachments exist. Today only AVAILABLE volumes can be snapshotted either way. */
  force?: boolean | null | undefined;
  /** Makes the create safe to retry (1 to 255 characters): the same key from the same project returns the first snapshot and its operation, never a second one. The same key with other parameters is CONFLICT. */
  idempotencyKey?: string | null | undefined;
  /** Name for people, 1 to 255 characters without control characters; need not be unique. */
  name: string;
  /** Id of the volume to snapshot; it must be visible to you (NOT_FOUND otherwise) and AVAILABLE (INVALID_STATE otherwise). */
  volumeId: string | number;
};

/** A new volume (`createVolume`). Limits follow Cinder's; every problem with the input is reported at once as BAD_USER_INPUT. */
export type CreateVolumeInput = {
  /** Availability zone to place it in (letters, digits, `.`, `:`, `-`, `_`). When omitted any pool may hold it, and it is recorded in the gateway's zone (default nova). */
  availabilityZone?: string | null | undefined;
  /** Free text for people, up to 1024 characters; default none. */
  description?: string | null | undefined;
  /** Makes the create safe to retry (1 to 255 characters): the same key from the same project returns the first volume and its operation, never a second one. The same key with other parameters is CONFLICT. */
  idempotencyKey?: string | null | undefined;
  /** Your own key/value pairs, e.g. `{"app": "pg"}`: an object of string values, at most 64 keys, keys and values up to 255 characters. Default `{}`. */
  metadata?: Record<string, unknown> | null | undefined;
  /** Allow several attachments at once (Cinder's multiattach); default false, or true when the volume type's extra spec multiattach is "<is> True". The consumers must coordinate their writes (a cluster file system). */
  multiattach?: boolean | null | undefined;
  /** Name for people, 1 to 255 characters without control characters; need not be unique. */
  name: string;
  /** Size in GiB (2^30 bytes), a whole number from 1 to 65536 (64 TiB). Required for a blank volume; with `snapshotId` or `sourceVolumeId` it defaults to the source's size and may not be smaller. */
  sizeGiB?: number | null | undefined;
  /** Create the volume with the data of this AVAILABLE snapshot (Cinder's create from snapshot), on the pool of the snapshot's volume. At most one of `snapshotId` and `sourceVolumeId`. NOT_FOUND when you cannot see it, INVALID_STATE when it is not AVAILABLE. */
  snapshotId?: string | number | null | undefined;
  /** Create the volume as a copy of this AVAILABLE volume (Cinder's clone), on its pool; its data is copied as it is when the copy is made. At most one of `snapshotId` and `sourceVolumeId`. NOT_FOUND when you cannot see it, INVALID_STATE when it is not AVAILABLE. */
  sourceVolumeId?: string | number | null | undefined;
  /** Name of a volume type (see `volumeTypes`); its extra specs choose the pool. Default none: any pool. An unknown or private type is BAD_USER_INPUT. */
  volumeType?: string | null | undefined;
};

/** A new volume type (`createVolumeType`). */
export type CreateVolumeTypeInput = {
  /** Free text for people, up to 1024 characters. */
  description?: string | null | undefined;
  /** Object of string values (at most 64 keys of up to 255 characters), e.g. `{"capabilities:tier": "gold", "provisioning:type": "thin"}`; default none (any pool). */
  extraSpecs?: Record<string, unknown> | null | undefined;
  /** Whether every project may use it (default true); false keeps it to admins. */
  isPublic?: boolean | null | undefined;
  /** Unique name, 1 to 255 characters without control characters. A name in use is CONFLICT. */
  name: string;
};

/** Which snapshot to delete (`deleteSnapshot`). */
export type DeleteSnapshotInput = {
  /** Optimistic concurrency: the snapshot's `version` as you last read it. When given and the snapshot has changed since, nothing happens and the error is CONFLICT (read it again and retry). Omit to apply regardless. */
  expectedVersion?: number | null | undefined;
  /** Id of the snapshot. */
  id: string | number;
};

/** Which volume to delete (`deleteVolume`). */
export type DeleteVolumeInput = {
  /** Delete the volume's snapshots with it: they go DELETING at once and DELETED when the volume is. Without it, a volume that has snapshots (not DELETED) is INVALID_STATE. */
  cascade?: boolean | null | undefined;
  /** Optimistic concurrency: the volume's `version` as you last read it. When given and the volume has changed since, nothing happens and the error is CONFLICT (read it again and retry). Omit to apply regardless. */
  expectedVersion?: number | null | undefined;
  /** Id of the volume. */
  id: string | number;
};

/** Which volume type to delete (`deleteVolumeType`). */
export type DeleteVolumeTypeInput = {
  /** Id of the volume type (from `volumeTypes`). */
  id: string | number;
};

/** How much to grow a volume (`extendVolume`). */
export type ExtendVolumeInput = {
  /** Optimistic concurrency: the volume's `version` as you last read it. When given and the volume has changed since, nothing happens and the error is CONFLICT (read it again and retry). Omit to apply regardless. */
  expectedVersion?: number | null | undefined;
  /** Id of the volume. */
  id: string | number;
  /** New size in GiB: larger than the current size (volumes only grow), at most 65536. */
  newSizeGiB: number;
};

/** Progress of an asynchronous operation. PENDING and RUNNING are not final; SUCCEEDED and FAILED are. */
export type OperationStatus =
  /** Did not succeed; `Operation.error` has the code and what to do. Final. */
  | 'FAILED'
  /** Recorded and queued; no service has started it yet. */
  | 'PENDING'
  /** A scheduler or agent is working on it. */
  | 'RUNNING'
  /** Done; the resource is in its new state. Final. */
  | 'SUCCEEDED';

/** What a token may do; set when the token is made (`flint token create --role …`). */
export type Role =
  /** Sees and changes everything in every project, and sees pools, services, hosts and private volume types. */
  | 'ADMIN'
  /** Sees and changes the volumes of its own project. */
  | 'MEMBER'
  /** Only reads the volumes of its own project; every mutation is FORBIDDEN. */
  | 'READER';

/** Liveness of a service or pool, from its heartbeats (every FLINT_HEARTBEAT_SECONDS, default 5 s). */
export type ServiceState =
  /** Three heartbeat periods passed without one: the process is stopped, hung or cut off. The scheduler skips DOWN pools. */
  | 'DOWN'
  /** A heartbeat arrived within the last three heartbeat periods. */
  | 'UP';

/** Conditions a snapshot must meet; all given ones apply. */
export type SnapshotFilter = {
  /** Exact name. */
  name?: string | null | undefined;
  /** Any of these statuses (default: all but DELETED). */
  status?: Array<SnapshotStatus> | null | undefined;
  /** Only snapshots of this volume. */
  volumeId?: string | number | null | undefined;
};

/** Where a snapshot is in its life, in Cinder's vocabulary. CREATING and DELETING end in a final state or in an ERROR state; each mutation starts only from the states it names, INVALID_STATE otherwise. */
export type SnapshotStatus =
  /** Taken: a point-in-time copy of the volume, kept on the volume's pool. Can be updated or deleted. */
  | 'AVAILABLE'
  /** The agent holding the volume is taking the snapshot. Ends AVAILABLE or ERROR. */
  | 'CREATING'
  /** Gone. Final: lists skip it unless the filter asks for DELETED, and `snapshotChanged` ends with it. */
  | 'DELETED'
  /** Being deleted on its storage host (`deleteSnapshot`, or `deleteVolume` with `cascade: true`). Ends DELETED or ERROR_DELETING. */
  | 'DELETING'
  /** Taking the snapshot failed; `Snapshot.messages` says why. Delete it and take another. */
  | 'ERROR'
  /** Deletion failed on the storage host; `Snapshot.messages` says why. Delete it again to retry. */
  | 'ERROR_DELETING';

/** Changes to a snapshot's name or description (`updateSnapshot`); give at least one. Fields left out keep their value. */
export type UpdateSnapshotInput = {
  /** New description, up to 1024 characters; null clears it. */
  description?: string | null | undefined;
  /** Optimistic concurrency: the snapshot's `version` as you last read it. When given and the snapshot has changed since, nothing happens and the error is CONFLICT (read it again and retry). Omit to apply regardless. */
  expectedVersion?: number | null | undefined;
  /** Id of the snapshot. */
  id: string | number;
  /** New name, 1 to 255 characters without control characters. */
  name?: string | null | undefined;
};

/** Changes to a volume's name, description or metadata (`updateVolume`); give at least one. Fields left out keep their value. */
export type UpdateVolumeInput = {
  /** New description, up to 1024 characters; null clears it. */
  description?: string | null | undefined;
  /** Optimistic concurrency: the volume's `version` as you last read it. When given and the volume has changed since, nothing happens and the error is CONFLICT (read it again and retry). Omit to apply regardless. */
  expectedVersion?: number | null | undefined;
  /** Id of the volume. */
  id: string | number;
  /** Replaces the whole metadata object (same limits as at creation); send every key you want to keep. */
  metadata?: Record<string, unknown> | null | undefined;
  /** New name, 1 to 255 characters without control characters. */
  name?: string | null | undefined;
};

/** What happened to a volume, in `volumeEvents`. */
export type VolumeEventType =
  /** A volume was requested (`createVolume`); it is CREATING. */
  | 'CREATED'
  /** The volume reached DELETED; no event about it follows. */
  | 'DELETED'
  /** Anything else changed: status, size, name, description or metadata. */
  | 'UPDATED';

/** Conditions a volume must meet; all given ones apply. */
export type VolumeFilter = {
  /** Exact availability zone. */
  availabilityZone?: string | null | undefined;
  /** Exact name. */
  name?: string | null | undefined;
  /** Any of these statuses (default: all but DELETED). */
  status?: Array<VolumeStatus> | null | undefined;
};

/** Where a volume is in its life, in Cinder's vocabulary. Transitional states (CREATING, EXTENDING, DELETING, …) end in a final one or in an ERROR_* state. Each mutation starts only from the states it names; from any other it fails with INVALID_STATE, naming the current state. */
export type VolumeStatus =
  /** Being exported to a consumer (reserved for attachments; not reached yet). */
  | 'ATTACHING'
  /** Ready: not attached, can be extended, updated or deleted. */
  | 'AVAILABLE'
  /** A backup is reading it (reserved for backups; not reached yet). */
  | 'BACKING_UP'
  /** Being created: the scheduler is choosing a pool or the agent is making the image. Ends AVAILABLE or ERROR. */
  | 'CREATING'
  /** Gone. Final: lists skip it unless the filter asks for DELETED, and `volumeChanged` ends with it. */
  | 'DELETED'
  /** Being deleted on its storage host (`deleteVolume`). Ends DELETED or ERROR_DELETING. */
  | 'DELETING'
  /** Its export is being removed (reserved for attachments; not reached yet). */
  | 'DETACHING'
  /** Creation failed; `Volume.messages` says why. Delete it and create another; it cannot be extended. */
  | 'ERROR'
  /** Deletion failed on the storage host; `Volume.messages` says why. Delete it again to retry. */
  | 'ERROR_DELETING'
  /** Extension failed on the storage host; `Volume.messages` says why. It can be deleted, not extended again. */
  | 'ERROR_EXTENDING'
  /** Restoring a backup into it failed (reserved for backups). It can be deleted. */
  | 'ERROR_RESTORING'
  /** Growing to a new size (`extendVolume`). Ends AVAILABLE (at the new size, or at the old one when no pool had room) or ERROR_EXTENDING. */
  | 'EXTENDING'
  /** Attached to a consumer (reserved for attachments; not reached yet). */
  | 'IN_USE'
  /** Locked by an administrator or a migration (reserved; not reached yet). */
  | 'MAINTENANCE'
  /** Held for an attachment that is about to start (reserved for attachments; not reached yet). */
  | 'RESERVED'
  /** A backup is being written into it (reserved for backups; not reached yet). */
  | 'RESTORING_BACKUP'
  /** Changing volume type, possibly moving pool (reserved; not reached yet). */
  | 'RETYPING'
  /** Being reverted to its latest snapshot (`revertVolumeToSnapshot`). Ends AVAILABLE with the snapshot's data, or ERROR (data not to be trusted; `Volume.messages` says why). */
  | 'REVERTING';

export type VolumeFieldsFragment = { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null };

export type OperationFieldsFragment = { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null };

export type UserMessageFieldsFragment = { id: string, level: string, event: string, message: string, resourceId: string, resourceType: string, createdAt: string, expiresAt: string };

export type VolumeTypeFieldsFragment = { id: string, name: string, description: string | null, isPublic: boolean, extraSpecs: Record<string, unknown>, createdAt: string };

export type SnapshotFieldsFragment = { id: string, name: string, description: string | null, status: SnapshotStatus, sizeGiB: number, volumeId: string, version: number, createdAt: string, updatedAt: string };

export type CreateVolumeMutationVariables = Exact<{
  input: CreateVolumeInput;
}>;


export type CreateVolumeMutation = { createVolume: { volume: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null }, operation: { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } } };

export type UpdateVolumeMutationVariables = Exact<{
  input: UpdateVolumeInput;
}>;


export type UpdateVolumeMutation = { updateVolume: { volume: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null }, operation: { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } } };

export type DeleteVolumeMutationVariables = Exact<{
  input: DeleteVolumeInput;
}>;


export type DeleteVolumeMutation = { deleteVolume: { volume: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null }, operation: { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } } };

export type ExtendVolumeMutationVariables = Exact<{
  input: ExtendVolumeInput;
}>;


export type ExtendVolumeMutation = { extendVolume: { volume: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null }, operation: { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } } };

export type CreateVolumeTypeMutationVariables = Exact<{
  input: CreateVolumeTypeInput;
}>;


export type CreateVolumeTypeMutation = { createVolumeType: { id: string, name: string, description: string | null, isPublic: boolean, extraSpecs: Record<string, unknown>, createdAt: string } };

export type DeleteVolumeTypeMutationVariables = Exact<{
  input: DeleteVolumeTypeInput;
}>;


export type DeleteVolumeTypeMutation = { deleteVolumeType: string };

export type CreateSnapshotMutationVariables = Exact<{
  input: CreateSnapshotInput;
}>;


export type CreateSnapshotMutation = { createSnapshot: { snapshot: { id: string, name: string, description: string | null, status: SnapshotStatus, sizeGiB: number, volumeId: string, version: number, createdAt: string, updatedAt: string }, operation: { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } } };

export type UpdateSnapshotMutationVariables = Exact<{
  input: UpdateSnapshotInput;
}>;


export type UpdateSnapshotMutation = { updateSnapshot: { snapshot: { id: string, name: string, description: string | null, status: SnapshotStatus, sizeGiB: number, volumeId: string, version: number, createdAt: string, updatedAt: string }, operation: { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } } };

export type DeleteSnapshotMutationVariables = Exact<{
  input: DeleteSnapshotInput;
}>;


export type DeleteSnapshotMutation = { deleteSnapshot: { snapshot: { id: string, name: string, description: string | null, status: SnapshotStatus, sizeGiB: number, volumeId: string, version: number, createdAt: string, updatedAt: string }, operation: { id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } } };

export type VolumeQueryVariables = Exact<{
  id: string | number;
}>;


export type VolumeQuery = { volume: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null, messages: Array<{ id: string, level: string, event: string, message: string, resourceId: string, resourceType: string, createdAt: string, expiresAt: string }> } | null };

export type VolumesQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: VolumeFilter | null | undefined;
}>;


export type VolumesQuery = { volumes: { totalCount: number, edges: Array<{ cursor: string, node: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean } } };

export type PoolsQueryVariables = Exact<{ [key: string]: never; }>;


export type PoolsQuery = { pools: Array<{ id: string, name: string, host: string, driver: string, availabilityZone: string, state: ServiceState, imageFormat: string, totalCapacityGiB: number, freeCapacityGiB: number, allocatedCapacityGiB: number, provisionedCapacityGiB: number, maxOverSubscriptionRatio: number, reservedPercentage: number, thinProvisioningSupport: boolean, thickProvisioningSupport: boolean, volumeCount: number, capabilities: Record<string, unknown>, updatedAt: string }> };

export type ServicesQueryVariables = Exact<{ [key: string]: never; }>;


export type ServicesQuery = { services: Array<{ role: string, host: string, zone: string, state: ServiceState, version: string, startedAt: string, lastHeartbeatAt: string }> };

export type OperationQueryVariables = Exact<{
  id: string | number;
}>;


export type OperationQuery = { operation: { resourceType: string, resourceId: string, id: string, kind: string, status: OperationStatus, createdAt: string, finishedAt: string | null, error: { code: string, message: string } | null } | null };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer: { projectId: string, projectName: string, role: Role } };

export type VolumeTypesQueryVariables = Exact<{ [key: string]: never; }>;


export type VolumeTypesQuery = { volumeTypes: Array<{ id: string, name: string, description: string | null, isPublic: boolean, extraSpecs: Record<string, unknown>, createdAt: string }> };

export type NodeQueryVariables = Exact<{
  id: string | number;
}>;


export type NodeQuery = { node:
    | { __typename: 'Attachment', id: string }
    | { __typename: 'Operation', kind: string, resourceType: string, resourceId: string, createdAt: string, finishedAt: string | null, id: string, operationStatus: OperationStatus }
    | { __typename: 'Snapshot', id: string }
    | { __typename: 'Volume', id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null }
    | { __typename: 'VolumeType', id: string, name: string, description: string | null, isPublic: boolean, extraSpecs: Record<string, unknown>, createdAt: string }
   | null };

export type SnapshotQueryVariables = Exact<{
  id: string | number;
}>;


export type SnapshotQuery = { snapshot: { id: string, name: string, description: string | null, status: SnapshotStatus, sizeGiB: number, volumeId: string, version: number, createdAt: string, updatedAt: string, volume: { id: string, name: string } | null, messages: Array<{ id: string, level: string, event: string, message: string, resourceId: string, resourceType: string, createdAt: string, expiresAt: string }> } | null };

export type SnapshotsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: SnapshotFilter | null | undefined;
}>;


export type SnapshotsQuery = { snapshots: { totalCount: number, edges: Array<{ cursor: string, node: { id: string, name: string, description: string | null, status: SnapshotStatus, sizeGiB: number, volumeId: string, version: number, createdAt: string, updatedAt: string } }>, pageInfo: { endCursor: string | null, hasNextPage: boolean } } };

export type VolumeChangedSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type VolumeChangedSubscription = { volumeChanged: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null } };

export type VolumeEventsSubscriptionVariables = Exact<{
  filter?: VolumeFilter | null | undefined;
}>;


export type VolumeEventsSubscription = { volumeEvents: { type: VolumeEventType, volume: { id: string, name: string, description: string | null, sizeGiB: number, status: VolumeStatus, volumeType: string | null, availabilityZone: string, metadata: Record<string, unknown>, version: number, createdAt: string, updatedAt: string, host: string | null, pool: string | null } } };

export type SnapshotChangedSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type SnapshotChangedSubscription = { snapshotChanged: { id: string, name: string, description: string | null, status: SnapshotStatus, sizeGiB: number, volumeId: string, version: number, createdAt: string, updatedAt: string } };

export const VolumeFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}}]} as unknown as DocumentNode<VolumeFieldsFragment, unknown>;
export const OperationFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<OperationFieldsFragment, unknown>;
export const UserMessageFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"UserMessageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UserMessage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"level"}},{"kind":"Field","name":{"kind":"Name","value":"event"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"resourceId"}},{"kind":"Field","name":{"kind":"Name","value":"resourceType"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]} as unknown as DocumentNode<UserMessageFieldsFragment, unknown>;
export const VolumeTypeFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeTypeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VolumeType"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"isPublic"}},{"kind":"Field","name":{"kind":"Name","value":"extraSpecs"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]} as unknown as DocumentNode<VolumeTypeFieldsFragment, unknown>;
export const SnapshotFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"SnapshotFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Snapshot"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"volumeId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<SnapshotFieldsFragment, unknown>;
export const CreateVolumeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateVolume"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateVolumeInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createVolume"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volume"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"operation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<CreateVolumeMutation, CreateVolumeMutationVariables>;
export const UpdateVolumeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateVolume"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdateVolumeInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateVolume"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volume"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"operation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<UpdateVolumeMutation, UpdateVolumeMutationVariables>;
export const DeleteVolumeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteVolume"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DeleteVolumeInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteVolume"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volume"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"operation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<DeleteVolumeMutation, DeleteVolumeMutationVariables>;
export const ExtendVolumeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ExtendVolume"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ExtendVolumeInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"extendVolume"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volume"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"operation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<ExtendVolumeMutation, ExtendVolumeMutationVariables>;
export const CreateVolumeTypeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateVolumeType"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateVolumeTypeInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createVolumeType"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeTypeFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeTypeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VolumeType"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"isPublic"}},{"kind":"Field","name":{"kind":"Name","value":"extraSpecs"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]} as unknown as DocumentNode<CreateVolumeTypeMutation, CreateVolumeTypeMutationVariables>;
export const DeleteVolumeTypeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteVolumeType"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DeleteVolumeTypeInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteVolumeType"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}]}]}}]} as unknown as DocumentNode<DeleteVolumeTypeMutation, DeleteVolumeTypeMutationVariables>;
export const CreateSnapshotDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateSnapshot"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateSnapshotInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createSnapshot"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"snapshot"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"SnapshotFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"operation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"SnapshotFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Snapshot"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"volumeId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<CreateSnapshotMutation, CreateSnapshotMutationVariables>;
export const UpdateSnapshotDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateSnapshot"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpdateSnapshotInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateSnapshot"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"snapshot"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"SnapshotFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"operation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"SnapshotFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Snapshot"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"volumeId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<UpdateSnapshotMutation, UpdateSnapshotMutationVariables>;
export const DeleteSnapshotDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteSnapshot"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"DeleteSnapshotInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteSnapshot"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"snapshot"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"SnapshotFields"}}]}},{"kind":"Field","name":{"kind":"Name","value":"operation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"SnapshotFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Snapshot"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"volumeId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<DeleteSnapshotMutation, DeleteSnapshotMutationVariables>;
export const VolumeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Volume"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volume"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}},{"kind":"Field","name":{"kind":"Name","value":"messages"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"UserMessageFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"UserMessageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UserMessage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"level"}},{"kind":"Field","name":{"kind":"Name","value":"event"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"resourceId"}},{"kind":"Field","name":{"kind":"Name","value":"resourceType"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]} as unknown as DocumentNode<VolumeQuery, VolumeQueryVariables>;
export const VolumesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Volumes"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"VolumeFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volumes"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"totalCount"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}}]} as unknown as DocumentNode<VolumesQuery, VolumesQueryVariables>;
export const PoolsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Pools"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pools"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"driver"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"imageFormat"}},{"kind":"Field","name":{"kind":"Name","value":"totalCapacityGiB"}},{"kind":"Field","name":{"kind":"Name","value":"freeCapacityGiB"}},{"kind":"Field","name":{"kind":"Name","value":"allocatedCapacityGiB"}},{"kind":"Field","name":{"kind":"Name","value":"provisionedCapacityGiB"}},{"kind":"Field","name":{"kind":"Name","value":"maxOverSubscriptionRatio"}},{"kind":"Field","name":{"kind":"Name","value":"reservedPercentage"}},{"kind":"Field","name":{"kind":"Name","value":"thinProvisioningSupport"}},{"kind":"Field","name":{"kind":"Name","value":"thickProvisioningSupport"}},{"kind":"Field","name":{"kind":"Name","value":"volumeCount"}},{"kind":"Field","name":{"kind":"Name","value":"capabilities"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]}}]} as unknown as DocumentNode<PoolsQuery, PoolsQueryVariables>;
export const ServicesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Services"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"services"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"zone"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"startedAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastHeartbeatAt"}}]}}]}}]} as unknown as DocumentNode<ServicesQuery, ServicesQueryVariables>;
export const OperationDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Operation"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"operation"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"OperationFields"}},{"kind":"Field","name":{"kind":"Name","value":"resourceType"}},{"kind":"Field","name":{"kind":"Name","value":"resourceId"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"OperationFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}}]} as unknown as DocumentNode<OperationQuery, OperationQueryVariables>;
export const ViewerDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"projectId"}},{"kind":"Field","name":{"kind":"Name","value":"projectName"}},{"kind":"Field","name":{"kind":"Name","value":"role"}}]}}]}}]} as unknown as DocumentNode<ViewerQuery, ViewerQueryVariables>;
export const VolumeTypesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"VolumeTypes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volumeTypes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeTypeFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeTypeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VolumeType"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"isPublic"}},{"kind":"Field","name":{"kind":"Name","value":"extraSpecs"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]} as unknown as DocumentNode<VolumeTypesQuery, VolumeTypesQueryVariables>;
export const NodeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Node"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Operation"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","alias":{"kind":"Name","value":"operationStatus"},"name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"resourceType"}},{"kind":"Field","name":{"kind":"Name","value":"resourceId"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"finishedAt"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VolumeType"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeTypeFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeTypeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VolumeType"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"isPublic"}},{"kind":"Field","name":{"kind":"Name","value":"extraSpecs"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]} as unknown as DocumentNode<NodeQuery, NodeQueryVariables>;
export const SnapshotDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Snapshot"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"snapshot"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"SnapshotFields"}},{"kind":"Field","name":{"kind":"Name","value":"volume"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"messages"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"UserMessageFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"SnapshotFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Snapshot"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"volumeId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"UserMessageFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UserMessage"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"level"}},{"kind":"Field","name":{"kind":"Name","value":"event"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"resourceId"}},{"kind":"Field","name":{"kind":"Name","value":"resourceType"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]} as unknown as DocumentNode<SnapshotQuery, SnapshotQueryVariables>;
export const SnapshotsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Snapshots"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"SnapshotFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"snapshots"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"SnapshotFields"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"endCursor"}},{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"totalCount"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"SnapshotFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Snapshot"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"volumeId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<SnapshotsQuery, SnapshotsQueryVariables>;
export const VolumeChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"VolumeChanged"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volumeChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}}]} as unknown as DocumentNode<VolumeChangedSubscription, VolumeChangedSubscriptionVariables>;
export const VolumeEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"VolumeEvents"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"VolumeFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"volumeEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"volume"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"VolumeFields"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"VolumeFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Volume"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"volumeType"}},{"kind":"Field","name":{"kind":"Name","value":"availabilityZone"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"host"}},{"kind":"Field","name":{"kind":"Name","value":"pool"}}]}}]} as unknown as DocumentNode<VolumeEventsSubscription, VolumeEventsSubscriptionVariables>;
export const SnapshotChangedDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"SnapshotChanged"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"snapshotChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"SnapshotFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"SnapshotFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Snapshot"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"sizeGiB"}},{"kind":"Field","name":{"kind":"Name","value":"volumeId"}},{"kind":"Field","name":{"kind":"Name","value":"version"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]} as unknown as DocumentNode<SnapshotChangedSubscription, SnapshotChangedSubscriptionVariables>;