/** What each kind of change claims from a project's quota (src/domain/quotas.ts), for the kernel's `quota` step. */
import type { Backup, Snapshot, Volume } from '../../db/index.js';
import type { QuotaClaim } from '../../domain/quotas.js';

/** A new volume: one volume and its size, in its project and in its type. */
export function newVolumeClaim(volume: Pick<Volume, 'projectId' | 'sizeGiB' | 'volumeType'>): QuotaClaim {
  return {
    projectId: volume.projectId,
    volumes: 1,
    gigabytes: volume.sizeGiB,
    volumeType: volume.volumeType ? { name: volume.volumeType, volumes: 1, gigabytes: volume.sizeGiB } : null,
    volumeSizeGiB: volume.sizeGiB,
  };
}

/** A new backup (taken or imported): one backup and its volume's size. */
export function backupClaim(backup: Pick<Backup, 'projectId' | 'sizeGiB'>): QuotaClaim {
  return { projectId: backup.projectId, backups: 1, backupGigabytes: backup.sizeGiB };
}

/** An accepted transfer, in the receiver's project: the volume and its snapshots, in use from now. */
export function transferClaim(receiver: string, volume: Volume, snapshots: readonly Snapshot[]): QuotaClaim {
  const snapshotGiB = snapshots.reduce((sum, s) => sum + s.sizeGiB, 0);
  return { ...newVolumeClaim({ ...volume, projectId: receiver }), gigabytes: volume.sizeGiB + snapshotGiB, snapshots: snapshots.length, heldAs: 'inUse' };
}
