/** The volume as a resource: how each of its fields changes, and what its actions do to its status. Pure. */
import { z } from 'zod';
import { VOLUME_ACTIONS, VOLUME_OUTCOMES, VOLUME_STATUSES } from '../volume-states.js';
import { actionStatuses, computed, settable } from './lifecycle.js';
import { commonComputed, descriptionSchema, idempotencyKeySchema, metadataSchema, nameSchema, sizeSchema, statusSchema } from './fields.js';
import type { ResourceModel } from './model.js';

/** A settled AVAILABLE volume is IN_USE while it has attachments (the attachment family follows them). */
const inUseWhenAttached = (status: string, from: readonly string[]) => (status === 'available' && from.includes('in_use') ? ['in_use'] : []);

export const VOLUME_FIELDS = z
  .object({
    ...commonComputed,
    name: settable(nameSchema, 'mutable', 'updateVolume', 'Its name; need not be unique.'),
    description: settable(descriptionSchema, 'mutable', 'updateVolume', 'Free text.'),
    metadata: settable(metadataSchema, 'mutable', 'updateVolume', 'String keys and values of your own; an update replaces the whole object.'),
    sizeGiB: settable(sizeSchema, 'growOnly', 'extendVolume', 'Its size in GiB; volumes only grow.'),
    volumeType: settable(z.string().min(1).nullable(), 'mutable', 'retypeVolume', 'The name of its volume type; null for the default.'),
    availabilityZone: settable(z.string().min(1), 'createOnly', 'createVolume', 'The zone it lives in.'),
    multiattach: settable(z.boolean(), 'createOnly', 'createVolume', 'Whether several consumers may attach it at once.'),
    snapshotId: settable(z.uuid().nullable(), 'createOnly', 'createVolume', 'The snapshot it was made from.'),
    sourceVolumeId: settable(z.uuid().nullable(), 'createOnly', 'createVolume', 'The volume it was cloned from.'),
    idempotencyKey: settable(idempotencyKeySchema, 'createOnly', 'createVolume', 'The key it was created with; repeating the create with it answers with this volume.'),
    status: computed(statusSchema(VOLUME_STATUSES), 'Where it is in its life; see x-flint-actions.'),
    generation: computed(z.number().int().min(1), 'Grows only when a field you set takes a new value; compare it with the generation you last applied.'),
    host: computed(z.string().nullable(), 'The node agent that holds it.'),
    pool: computed(z.string().nullable(), 'The pool on that host.'),
    encrypted: computed(z.boolean(), 'Whether its bytes are encrypted at rest (from its volume type).'),
    migrationStatus: computed(z.enum(['STARTING', 'COPYING', 'SUCCESS', 'ERROR']).nullable(), 'Progress of its last migration.'),
  })
  .meta({ title: 'Volume', description: 'A block device on a pool, made by createVolume and removed by deleteVolume.' });

const VOLUME_MUTATIONS: Partial<Record<keyof typeof VOLUME_ACTIONS, string>> = {
  delete: 'deleteVolume',
  extend: 'extendVolume',
  retype: 'retypeVolume',
  update: 'updateVolume',
  revert: 'revertVolumeToSnapshot',
  migrate: 'migrateVolume',
  backup: 'createBackup',
  restore: 'restoreBackup',
  transfer: 'createVolumeTransfer',
  snapshot: 'createSnapshot',
};

export const VOLUME_MODEL: ResourceModel = {
  name: 'volume',
  graphqlType: 'Volume',
  fields: VOLUME_FIELDS,
  actions: {
    create: actionStatuses('createVolume', { from: [], to: 'creating' }, VOLUME_OUTCOMES, { create: true }),
    ...Object.fromEntries(
      Object.entries(VOLUME_MUTATIONS).map(([action, mutation]) => [
        action,
        actionStatuses(mutation, VOLUME_ACTIONS[action as keyof typeof VOLUME_ACTIONS], VOLUME_OUTCOMES, { settlesAs: inUseWhenAttached }),
      ]),
    ),
  },
};
