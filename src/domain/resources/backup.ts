/** The backup as a resource. Pure. */
import { z } from 'zod';
import { BACKUP_ACTIONS, BACKUP_OUTCOMES, BACKUP_STATUSES } from '../backup-states.js';
import { actionStatuses, computed, settable } from './lifecycle.js';
import { commonComputed, descriptionSchema, idempotencyKeySchema, nameSchema, sizeSchema, statusSchema } from './fields.js';
import type { ResourceModel } from './model.js';

const bytes = (description: string) => computed(z.number().min(0).nullable(), description);

export const BACKUP_FIELDS = z
  .object({
    ...commonComputed,
    volumeId: settable(z.uuid(), 'createOnly', 'createBackup', 'The volume backed up.'),
    snapshotId: settable(z.uuid().nullable(), 'createOnly', 'createBackup', 'The snapshot read instead of the volume, when one was given.'),
    name: settable(nameSchema, 'createOnly', 'createBackup', 'Its name.'),
    description: settable(descriptionSchema, 'createOnly', 'createBackup', 'Free text.'),
    isIncremental: settable(z.boolean(), 'createOnly', 'createBackup', 'Whether it stores only what changed since its parent.'),
    forced: settable(z.boolean(), 'createOnly', 'createBackup', 'Whether it was taken of an attached volume (force).'),
    idempotencyKey: settable(idempotencyKeySchema, 'createOnly', 'createBackup', 'The key it was created with.'),
    status: computed(statusSchema(BACKUP_STATUSES), 'Where it is in its life; see x-flint-actions.'),
    sizeGiB: computed(sizeSchema, "The volume's size when it was taken."),
    parentId: computed(z.uuid().nullable(), 'The backup an incremental one builds on.'),
    repository: computed(z.string(), 'The repository that holds its chunks.'),
    repositoryId: computed(z.string().nullable(), "The repository's own id."),
    host: computed(z.string().nullable(), 'The agent that took it.'),
    pool: computed(z.string().nullable(), 'The pool it was read from.'),
    codec: computed(z.string().nullable(), 'How its chunks are compressed.'),
    chunkSize: computed(z.number().int().nullable(), 'Bytes per chunk.'),
    chunkCount: computed(z.number().int().nullable(), 'How many chunks it has.'),
    changeTracking: computed(z.enum(['FULL', 'COMPARE', 'DIRTY_BITMAP', 'RBD_DIFF']).nullable(), 'How an incremental found what changed.'),
    incrementalNote: computed(z.string().nullable(), 'Why an incremental was taken as it was (a fallback, for example).'),
    restoreVolumeId: computed(z.uuid().nullable(), 'The volume a running restore writes.'),
    sizeBytes: bytes('The bytes of the volume it holds.'),
    dataBytes: bytes('Bytes that were not zero.'),
    readBytes: bytes('Bytes read from the volume.'),
    storedBytes: bytes('Bytes written to the repository (after dedup and compression).'),
    dedupBytes: bytes('Bytes the repository already had.'),
    sha256: computed(z.string().regex(/^[0-9a-f]{64}$/).nullable(), "sha256 of the whole volume's bytes, hex; null until AVAILABLE."),
    durationSeconds: computed(z.number().min(0).nullable(), 'How long it took.'),
  })
  .meta({ title: 'Backup', description: "A copy of a volume's bytes in a repository, made by createBackup and removed by deleteBackup." });

export const BACKUP_MODEL: ResourceModel = {
  name: 'backup',
  graphqlType: 'Backup',
  fields: BACKUP_FIELDS,
  actions: {
    create: actionStatuses('createBackup', { from: [], to: 'creating' }, BACKUP_OUTCOMES, { create: true }),
    restore: actionStatuses('restoreBackup', BACKUP_ACTIONS.restore, BACKUP_OUTCOMES),
    verify: actionStatuses('verifyBackup', BACKUP_ACTIONS.verify, BACKUP_OUTCOMES),
    delete: actionStatuses('deleteBackup', BACKUP_ACTIONS.delete, BACKUP_OUTCOMES),
  },
};
