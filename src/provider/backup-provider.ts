/**
 * The backup provider, for backup policies: the backups of a stack's volumes, a policy's
 * backup taken with the key of its period (./keys.ts `backupKey`), and old ones deleted.
 * Backups change nothing in place.
 */
import { CreateBackupDocument, DeleteBackupDocument, StackBackupsDocument, type StackBackupFieldsFragment } from '../client/index.js';
import { backupKey } from './keys.js';
import type { ActualBackup, DesiredBackup } from './plan-types.js';
import { allPages, PAGE, ProviderBase, ProviderError } from './provider-base.js';

export function toActualBackup(b: StackBackupFieldsFragment): ActualBackup {
  return { id: b.id, volumeId: b.volumeId, name: b.name, status: b.status, version: b.version, createdAt: b.createdAt, idempotencyKey: b.idempotencyKey ?? null };
}

export class BackupProvider extends ProviderBase {
  /** The backups of each of `volumeIds`. */
  async readVolumes(volumeIds: readonly string[]): Promise<ActualBackup[]> {
    const all = await Promise.all(
      volumeIds.map((volumeId) => allPages(async (after) => (await this.client.request(StackBackupsDocument, { first: PAGE, after, filter: { volumeId } })).backups)),
    );
    return all.flat().map(toActualBackup);
  }

  /** Takes the policy's backup of volume `volumeId` for `desired.window` and waits for it. */
  async create(stack: string, desired: DesiredBackup, volumeId: string | null): Promise<ActualBackup> {
    const input = { volumeId: volumeId!, name: desired.name, incremental: desired.incremental, force: desired.force };
    const address = `backup.${desired.resource}`;
    const { createBackup } = await this.keyed(
      (attempt) => backupKey(stack, desired.volume, desired.window, attempt),
      (idempotencyKey) => this.client.request(CreateBackupDocument, { input: { ...input, idempotencyKey } }),
    );
    this.report(`${address}: backing up volume ${volumeId!} as ${createBackup.backup.id} (operation ${createBackup.operation?.id ?? 'none'})`);
    await this.await(address, createBackup.operation);
    return toActualBackup(createBackup.backup);
  }

  update(resource: string): Promise<never> {
    return Promise.reject(new ProviderError('BAD_USER_INPUT', `backup.${resource}: backups change nothing in place`));
  }

  /** Deletes `actual` (conditional on its version) and waits; one already deleted is success. */
  async delete(resource: string, actual: ActualBackup): Promise<void> {
    const { deleteBackup } = await this.client.request(DeleteBackupDocument, { input: { id: actual.id, expectedVersion: actual.version } });
    if (deleteBackup.alreadyDeleted) return this.report(`backup.${resource}: ${actual.id} was already deleted`);
    await this.await(`backup.${resource}`, deleteBackup.operation);
  }
}
