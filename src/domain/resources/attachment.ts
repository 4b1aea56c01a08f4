/** The attachment as a resource. Pure. */
import { z } from 'zod';
import { ATTACHMENT_ACTIONS, ATTACHMENT_OUTCOMES, ATTACHMENT_STATUSES } from '../attachment-states.js';
import { actionStatuses, computed, settable } from './lifecycle.js';
import { commonComputed, idempotencyKeySchema, statusSchema } from './fields.js';
import type { ResourceModel } from './model.js';

const connector = z.object({
  host: z.string().min(1),
  initiator: z.string().nullable().optional(),
  ip: z.string().nullable().optional(),
  multipath: z.boolean().optional(),
  osType: z.string().nullable().optional(),
  platform: z.string().nullable().optional(),
});

export const ATTACHMENT_FIELDS = z
  .object({
    ...commonComputed,
    volumeId: settable(z.uuid(), 'createOnly', 'createAttachment', 'The volume attached.'),
    instanceId: settable(z.string().min(1), 'createOnly', 'createAttachment', 'The consumer (server, pod, VM) it is for; with the connector host it identifies the attachment.'),
    mode: settable(z.enum(['RW', 'RO']), 'createOnly', 'createAttachment', 'Read-write or read-only.'),
    targetKind: settable(z.enum(['ISCSI', 'NBD']), 'createOnly', 'createAttachment', 'The export protocol.'),
    connector: settable(connector.nullable(), 'mutable', 'updateAttachment', "The consumer's connector; a RESERVED attachment gets it once (Cinder's attachment_update)."),
    idempotencyKey: settable(idempotencyKeySchema, 'createOnly', 'createAttachment', 'The key it was created with.'),
    status: computed(statusSchema(ATTACHMENT_STATUSES), 'Where it is in its life; see x-flint-actions.'),
    connectionInfo: computed(z.record(z.string(), z.unknown()).nullable(), 'How the consumer connects (target, portal, credentials), once exported.'),
    attachedAt: computed(z.iso.datetime().nullable(), 'When it was completed.'),
    detachedAt: computed(z.iso.datetime().nullable(), 'When it was removed.'),
  })
  .meta({ title: 'Attachment', description: 'A volume exported to one consumer, made by createAttachment and removed by deleteAttachment.' });

export const ATTACHMENT_MODEL: ResourceModel = {
  name: 'attachment',
  graphqlType: 'Attachment',
  fields: ATTACHMENT_FIELDS,
  actions: {
    // Without a connector it is reserved; with one, the create goes on as updateAttachment does.
    create: actionStatuses('createAttachment', { from: [], to: 'reserved' }, ATTACHMENT_OUTCOMES, { create: true }),
    update: actionStatuses('updateAttachment', ATTACHMENT_ACTIONS.update, ATTACHMENT_OUTCOMES),
    complete: actionStatuses('completeAttachment', ATTACHMENT_ACTIONS.complete, ATTACHMENT_OUTCOMES),
    delete: actionStatuses('deleteAttachment', ATTACHMENT_ACTIONS.delete, ATTACHMENT_OUTCOMES),
  },
};
