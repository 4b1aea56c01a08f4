/**
 * What a plan is made of: each kind of resource as Flint has it (`Actual…`) and as the stack
 * wants it (`Desired…`), and the changes between them. Pure types.
 */

/** The kinds of resource a stack holds; a change's address is `<kind>.<resource>`. */
export type Kind = 'volume' | 'snapshot' | 'attachment' | 'backup';

/** What every resource read from Flint has. */
export interface ActualResource {
  id: string;
  status: string;
  version: number;
}

/** A resource whose user-set fields have their own counter (`generation`), apart from its status moves. */
export interface Generational extends ActualResource {
  generation: number;
}

/** A volume as Flint has it (the fields a plan compares, and what an update needs). */
export interface ActualVolume extends Generational {
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  sizeGiB: number;
  volumeType: string | null;
  availabilityZone: string;
  multiattach: boolean;
}

/** A volume as the stack wants it: the create's input, labels included. Absent fields are Flint's choice. */
export interface DesiredVolume {
  /** Its name in the stack file. */
  resource: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  sizeGiB: number;
  volumeType?: string | null;
  availabilityZone?: string;
  multiattach?: boolean;
}

export interface ActualSnapshot extends Generational {
  volumeId: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
}

export interface DesiredSnapshot {
  resource: string;
  /** The volume's name in the stack file. */
  volume: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  force?: boolean;
}

export interface ActualConnector {
  host: string;
  initiator: string | null;
  ip: string | null;
  multipath: boolean;
  osType: string | null;
  platform: string | null;
}

export interface ActualAttachment extends ActualResource {
  volumeId: string;
  instanceId: string;
  mode: string;
  targetKind: string;
  connector: ActualConnector | null;
  idempotencyKey: string | null;
}

export interface DesiredAttachment {
  resource: string;
  volume: string;
  instanceId: string;
  connector: { host: string; initiator?: string | null; ip?: string | null; multipath?: boolean; osType?: string | null; platform?: string | null };
  mode?: 'RW' | 'RO';
  targetKind?: 'ISCSI' | 'NBD';
}

export interface ActualBackup extends ActualResource {
  volumeId: string;
  name: string;
  createdAt: string;
  idempotencyKey: string | null;
}

/** A backup the policy of volume `resource` takes now. */
export interface DesiredBackup {
  /** The volume's name in the stack file (a backup's address is `backup.<volume>`). */
  resource: string;
  volume: string;
  name: string;
  incremental: boolean;
  force: boolean;
  /** The start of the policy's period it is for (seconds since the epoch): part of its idempotency key. */
  window: number;
}

/** One field to change in place, by `mutation`. */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
  mutation: string;
}

/** The changes of one kind of resource. */
type ChangeOf<K extends Kind, A extends ActualResource, D> =
  | { kind: K; action: 'create'; resource: string; desired: D; reasons?: string[] }
  | { kind: K; action: 'update'; resource: string; actual: A; desired: D; fields: FieldChange[] }
  | { kind: K; action: 'replace'; resource: string; actual: A; desired: D; reasons: string[] }
  | { kind: K; action: 'delete'; resource: string; actual: A; reasons: string[] };

export type VolumeChange = ChangeOf<'volume', ActualVolume, DesiredVolume>;
export type SnapshotChange = ChangeOf<'snapshot', ActualSnapshot, DesiredSnapshot>;
export type AttachmentChange = ChangeOf<'attachment', ActualAttachment, DesiredAttachment>;
export type BackupChange = ChangeOf<'backup', ActualBackup, DesiredBackup>;
export type Change = VolumeChange | SnapshotChange | AttachmentChange | BackupChange;
export type Action = Change['action'];

/** What Flint holds of a stack, as read (./stack-provider.ts). */
export interface StackState {
  /** Every live volume carrying the stack's label. */
  volumes: readonly ActualVolume[];
  /** Every live snapshot carrying the stack's label. */
  snapshots: readonly ActualSnapshot[];
  /** Every live attachment of the stack's volumes (whoever made it). */
  attachments: readonly ActualAttachment[];
  /** The backups `flint apply` made for the stack's volumes (by their keys). */
  backups: readonly ActualBackup[];
}

export interface Plan {
  stack: string;
  /** Volumes, snapshots, attachments, then backups, each in the stack file's order and then the deletes. */
  changes: Change[];
  /** Resources that already are as declared (`volume.db`). */
  unchanged: string[];
  /** Resources of the stack that the file no longer names, kept because --prune was not given. */
  kept: { kind: Kind; resource: string; id: string }[];
  /** The id of each volume of the file that keeps its volume (neither created nor replaced): what its snapshots, attachments and backups hang on. */
  volumeIds: Record<string, string>;
  /** What makes the plan impossible (a shrink, a volume claimed twice); apply runs nothing when there is any. */
  errors: string[];
}

/** `volume.db`. */
export function address(c: { kind: Kind; resource: string }): string {
  return `${c.kind}.${c.resource}`;
}
