/**
 * The provider of a whole stack: reads what Flint holds of it (volumes and snapshots by their
 * labels, the attachments of its volumes, the backups of its volumes with a policy) and lends
 * each kind's provider to `applyPlan`.
 */
import type { FlintClient } from '../client/index.js';
import type { StackOps } from './apply.js';
import { AttachmentProvider } from './attachment-provider.js';
import { BackupProvider } from './backup-provider.js';
import { NAME_LABEL } from './labels.js';
import { GONE } from './plan-common.js';
import type { StackState } from './plan-types.js';
import type { ProviderOptions } from './provider-base.js';
import { SnapshotProvider } from './snapshot-provider.js';
import type { Stack } from './stack-schema.js';
import { VolumeProvider } from './volume-provider.js';

export class StackProvider implements StackOps {
  readonly volume: VolumeProvider;
  readonly snapshot: SnapshotProvider;
  readonly attachment: AttachmentProvider;
  readonly backup: BackupProvider;

  constructor(client: FlintClient, opts: ProviderOptions = {}) {
    this.volume = new VolumeProvider(client, opts);
    this.snapshot = new SnapshotProvider(client, opts);
    this.attachment = new AttachmentProvider(client, opts);
    this.backup = new BackupProvider(client, opts);
  }

  /** What Flint holds of `stack` (the file tells which volumes have a backup policy to read backups for). */
  async read(stack: Stack): Promise<StackState> {
    const [volumes, snapshots] = await Promise.all([this.volume.readStack(stack.stack), this.snapshot.readStack(stack.stack)]);
    const live = volumes.filter((v) => !GONE.has(v.status));
    const withPolicy = live.filter((v) => {
      const name = v.metadata[NAME_LABEL];
      return name !== undefined && stack.volumes[name]?.backupPolicy !== undefined;
    });
    const [attachments, backups] = await Promise.all([this.attachment.readVolumes(live.map((v) => v.id)), this.backup.readVolumes(withPolicy.map((v) => v.id))]);
    return { volumes, snapshots, attachments, backups };
  }
}
