/**
 * The volume driver contract: what an agent asks of the code that owns the bytes of
 * the volumes in one pool. Modelled on Cinder's `cinder/interface/volume_driver.py`.
 *
 * Lifecycle: the agent constructs a driver per pool from its config, calls `setup()`
 * once (create directories, check tools; throw `DriverError` to refuse to start), then
 * `stats()` on every heartbeat and the volume methods on commands.
 *
 * Every volume method must be idempotent, because NATS may deliver a command twice and
 * an agent may die half-way: `createVolume` of a volume that already exists with the
 * requested size succeeds, `deleteVolume` of a missing volume succeeds, `extendVolume`
 * to a size the volume already has succeeds. Methods throw `DriverError` on failure,
 * with a message an operator can act on.
 */
export interface PoolCapacity {
  /** Size of the backing store, GiB. */
  totalCapacityGiB: number;
  /** Space still free in the backing store, GiB. */
  freeCapacityGiB: number;
  /** Sum of the virtual sizes of the pool's volumes, GiB. */
  provisionedCapacityGiB: number;
  volumeCount: number;
}

export interface DriverCapabilities {
  thinProvisioningSupport: boolean;
  thickProvisioningSupport: boolean;
  /** Free-form capabilities the pool advertises to the CapabilitiesFilter (e.g. `compression: true`). */
  extra: Record<string, string | number | boolean>;
}

export interface VolumeInfo {
  volumeId: string;
  /** Virtual size, bytes. */
  sizeBytes: number;
  /** Bytes really allocated on the backing store. */
  allocatedBytes: number;
  format: 'raw' | 'qcow2';
  /** Where the bytes live, as qemu tools open them: a file path (file driver) or an `rbd:` file name (rbd driver). */
  location: string;
  /** The bytes on the pool are ciphertext (LUKS); the driver opens them with the volume's key. */
  encrypted: boolean;
}

/**
 * How a new volume is encrypted (its volume type's encryption, src/domain/encryption.ts):
 * the key as the gateway sealed it (the volume id as associated data) and the cipher. The
 * driver keeps the sealed key with the volume and opens it with the agent's secret key.
 */
export interface VolumeEncryption {
  sealedKey: string;
  cipher: string;
  keySize: number;
}

export interface VolumeDriver {
  /** Driver name as configured (`file`, `rbd`). */
  readonly name: string;
  setup(): Promise<void>;
  capabilities(): DriverCapabilities;
  stats(): Promise<PoolCapacity>;
  /** With `encryption`, an encrypted volume: only ciphertext reaches the pool. */
  createVolume(volumeId: string, sizeGiB: number, encryption?: VolumeEncryption): Promise<VolumeInfo>;
  deleteVolume(volumeId: string): Promise<void>;
  /** Grow only; a smaller size is a DriverError. */
  extendVolume(volumeId: string, newSizeGiB: number): Promise<VolumeInfo>;
  /** `null` when the pool has no such volume. */
  getVolume(volumeId: string): Promise<VolumeInfo | null>;
  listVolumes(): Promise<string[]>;
  /**
   * Takes a point-in-time copy of the volume, kept on the pool until deleted. Idempotent:
   * a snapshot that exists already succeeds. The volume must exist (DriverError otherwise).
   */
  createSnapshot(volumeId: string, snapshotId: string): Promise<SnapshotInfo>;
  /** Removes a snapshot; a missing one (or a missing volume) is success. */
  deleteSnapshot(volumeId: string, snapshotId: string): Promise<void>;
  /** Ids of the volume's snapshots on the pool (empty for a missing volume). */
  listSnapshots(volumeId: string): Promise<string[]>;
  /**
   * Creates volume `volumeId` of `sizeGiB` holding the bytes snapshot `snapshotId` of
   * `sourceVolumeId` had when it was taken (grown with zeros when `sizeGiB` is larger).
   * Within this pool only. Idempotent: a volume that already exists with that size is
   * returned as is. Not retryable when the source volume or snapshot is missing or
   * `sizeGiB` is smaller than the snapshot; a half-made volume is never left under its name.
   * With `encryption` the new volume is encrypted with its own key (an encrypted source is
   * decrypted with its key while copying).
   */
  createVolumeFromSnapshot(volumeId: string, sizeGiB: number, sourceVolumeId: string, snapshotId: string, encryption?: VolumeEncryption): Promise<VolumeInfo>;
  /**
   * Creates volume `volumeId` of `sizeGiB` as a copy of the bytes `sourceVolumeId` has now
   * (Cinder's clone), grown when `sizeGiB` is larger. Same pool, idempotence and refusals
   * as `createVolumeFromSnapshot`. The source should not be written meanwhile.
   */
  cloneVolume(volumeId: string, sizeGiB: number, sourceVolumeId: string, encryption?: VolumeEncryption): Promise<VolumeInfo>;
  /**
   * Puts the bytes of snapshot `snapshotId` back into `volumeId` (Cinder's revert to
   * snapshot); the snapshot stays. The volume must have the snapshot's size. Crash-safe
   * where the format allows: the volume holds either its old bytes or the snapshot's.
   * Idempotent: reverting again gives the same bytes. Not retryable when the volume or
   * snapshot is missing.
   */
  revertToSnapshot(volumeId: string, snapshotId: string): Promise<VolumeInfo>;
  /**
   * Where the bytes of a volume, or of one of its snapshots, can be opened by qemu tools
   * (qemu-nbd, qemu-img, qemu-storage-daemon): for exports, backups and migration.
   * Not retryable DriverError when the volume or the snapshot is missing.
   */
  imageSource(volumeId: string, snapshotId?: string): Promise<ImageSource>;
  /**
   * Creates volume `volumeId` of `sizeGiB` in this pool, in the pool's own format, from the
   * bytes of a remote image (migration: the source agent's NBD export). The copy is checked
   * against the source before it takes the volume's name; a failure leaves nothing behind.
   * Idempotent: an image that exists already and equals the source is returned as is; one
   * that differs is a not retryable DriverError. `onProgress` gets the bytes done of the
   * copy and of the check (`totalBytes` counts both: twice the volume's size); a copy whose
   * progress stops moving for long is killed, however long the whole copy takes. With
   * `encryption` (an encrypted volume arriving as plaintext) the copy is encrypted with that key.
   */
  importVolume(volumeId: string, sizeGiB: number, source: RemoteImage, onProgress?: (p: CopyProgress) => void, encryption?: VolumeEncryption): Promise<VolumeInfo>;
  /**
   * Adopts an image already in the pool, named by `reference` (Cinder's `manage_existing`):
   * checks it (a format the driver serves, no backing file, not in use by another process,
   * not already a volume), moves it crash-safely under `volumeId`'s name and grows it to
   * a whole number of GiB (Cinder's drivers round a managed volume's size up the same
   * way). Idempotent: when `volumeId` exists already and `reference` is gone, the adopted
   * volume is returned. Not retryable DriverError when the reference is missing or
   * unsuitable; the reference is then left untouched.
   */
  manageExisting(volumeId: string, reference: string): Promise<VolumeInfo>;
  /**
   * Stops managing a volume while keeping its bytes (Cinder's `unmanage`): the image is
   * moved out of the driver's naming (the file driver: `unmanaged-volume-<id>.<fmt>`), so
   * `listVolumes` no longer reports it. Idempotent: a volume already unmanaged, or
   * missing, is success. The volume must have no snapshots (the gateway refuses that).
   */
  unmanage(volumeId: string): Promise<void>;
  /** Images in the pool that are not volumes, each with whether `manageExisting` would take it (Cinder's `get_manageable_volumes`). */
  listManageable(): Promise<ManageableImage[]>;
}

/** An image a driver could adopt with `manageExisting`. */
export interface ManageableImage {
  /** What to pass as `reference` (the file driver: the file name inside the pool's directory). */
  reference: string;
  /** Virtual size, bytes (0 when it could not be read). */
  sizeBytes: number;
  /** `raw`, `qcow2`, or what qemu-img detected (e.g. `vmdk`); null when unreadable. */
  format: string | null;
  safeToManage: boolean;
  /** Why it is not safe to manage; null when it is. */
  reasonNotSafe: string | null;
}

/** An image another host serves, as qemu tools open it (`nbd://host:port/name`). */
/** How far a long copy is (migration's import). */
export interface CopyProgress {
  doneBytes: number;
  totalBytes: number;
}

export interface RemoteImage {
  uri: string;
  /** Format of the bytes served: NBD exports are raw. */
  format: 'raw';
}

/**
 * Where an RBD image (or one of its snapshots) is, as qemu's `rbd` block driver takes it
 * (image-opts.ts's `protocolNode` turns it into `{"driver":"rbd",…}`).
 */
export interface RbdLocation {
  /** The Ceph pool. */
  pool: string;
  image: string;
  /** An RBD snapshot of the image to read instead of its current bytes (read-only). */
  snapshot?: string;
  /** Path of the ceph.conf. */
  conf: string;
  /** The cephx user, without `client.`. */
  user: string;
  /** Path of the user's keyring, when the conf does not find it. */
  keyring?: string;
}

/** An image as qemu tools open it. */
export interface ImageSource {
  /**
   * What qemu tools take as the file name: a path (file driver), or for RBD the
   * `rbd:POOL/IMAGE[@SNAP]:conf=CONF:id=USER[:keyring=K]` file name (then `rbd` is set too).
   */
  path: string;
  format: 'raw' | 'qcow2';
  /** A qcow2 internal snapshot to read instead of the image's current bytes (read-only). */
  snapshotName?: string;
  /** Virtual size of the bytes, bytes. */
  sizeBytes: number;
  /**
   * The key of an encrypted image (a LUKS passphrase, in clear: never log it): qemu tools open
   * the image with it (image-opts.ts), so what they serve or read is plaintext.
   */
  key?: string;
  /** Set when the image is in Ceph (the `rbd` driver): the structured form of `path`. */
  rbd?: RbdLocation;
}

export interface SnapshotInfo {
  snapshotId: string;
  volumeId: string;
  /** Virtual size of the volume when the snapshot was taken, bytes. */
  sizeBytes: number;
}

export class DriverError extends Error {
  /** When false, retrying elsewhere cannot help (bad request); when true another pool may succeed. */
  readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DriverError';
    this.retryable = options?.retryable ?? true;
  }
}

export const GiB = 1024 ** 3;
