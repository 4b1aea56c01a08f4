/** The snapshot as a resource. Pure. */
import { z } from 'zod';
import { SNAPSHOT_ACTIONS, SNAPSHOT_OUTCOMES, SNAPSHOT_STATUSES } from '../snapshot-states.js';
import { actionStatuses, computed, settable } from './lifecycle.js';
import { commonComputed, descriptionSchema, idempotencyKeySchema, metadataSchema, nameSchema, sizeSchema, statusSchema } from './fields.js';
import type { ResourceModel } from './model.js';

export const SNAPSHOT_FIELDS = z
  .object({
    ...commonComputed,
    volumeId: settable(z.uuid(), 'createOnly', 'createSnapshot', 'The volume it is a snapshot of.'),
    name: settable(nameSchema, 'mutable', 'updateSnapshot', 'Its name.'),
    description: settable(descriptionSchema, 'mutable', 'updateSnapshot', 'Free text.'),
    metadata: settable(metadataSchema, 'mutable', 'updateSnapshot', 'String keys and values of your own; an update replaces the whole object.'),
    idempotencyKey: settable(idempotencyKeySchema, 'createOnly', 'createSnapshot', 'The key it was created with.'),
    sizeGiB: computed(sizeSchema, "The volume's size when it was taken."),
    status: computed(statusSchema(SNAPSHOT_STATUSES), 'Where it is in its life; see x-flint-actions.'),
    generation: computed(z.number().int().min(1), 'Grows only when a field you set takes a new value.'),
  })
  .meta({ title: 'Snapshot', description: "A point-in-time copy of a volume's bytes, made by createSnapshot and removed by deleteSnapshot." });

export const SNAPSHOT_MODEL: ResourceModel = {
  name: 'snapshot',
  graphqlType: 'Snapshot',
  fields: SNAPSHOT_FIELDS,
  actions: {
    create: actionStatuses('createSnapshot', { from: [], to: 'creating' }, SNAPSHOT_OUTCOMES, { create: true }),
    update: actionStatuses('updateSnapshot', SNAPSHOT_ACTIONS.update, SNAPSHOT_OUTCOMES),
    delete: actionStatuses('deleteSnapshot', SNAPSHOT_ACTIONS.delete, SNAPSHOT_OUTCOMES),
  },
};
