/**
 * The attachment provider: the live attachments of a stack's volumes (whoever made them),
 * made with a derived idempotency key (createAttachment is also idempotent per volume,
 * instanceId and connector host, so one made by hand is answered with, not made twice),
 * given their connector when RESERVED, and detached idempotently.
 */
import {
  CreateAttachmentDocument,
  DeleteAttachmentDocument,
  StackAttachmentDocument,
  StackAttachmentsDocument,
  UpdateAttachmentDocument,
  type CreateAttachmentInput,
  type StackAttachmentFieldsFragment,
} from '../client/index.js';
import { createKey } from './keys.js';
import type { ActualAttachment, DesiredAttachment, FieldChange } from './plan-types.js';
import { allPages, PAGE, ProviderBase, ProviderError } from './provider-base.js';

export function toActualAttachment(a: StackAttachmentFieldsFragment): ActualAttachment {
  const c = a.connector;
  return {
    id: a.id,
    volumeId: a.volumeId,
    instanceId: a.instanceId,
    mode: a.mode,
    targetKind: a.targetKind,
    status: a.status,
    version: a.version,
    idempotencyKey: a.idempotencyKey ?? null,
    connector: c ? { host: c.host, initiator: c.initiator ?? null, ip: c.ip ?? null, multipath: c.multipath, osType: c.osType ?? null, platform: c.platform ?? null } : null,
  };
}

/** The createAttachment input of `desired`, of volume `volumeId`, without its key. */
export function attachmentInput(desired: DesiredAttachment, volumeId: string): CreateAttachmentInput {
  return {
    volumeId,
    instanceId: desired.instanceId,
    connector: desired.connector,
    ...(desired.mode !== undefined && { mode: desired.mode }),
    ...(desired.targetKind !== undefined && { targetKind: desired.targetKind }),
  };
}

export class AttachmentProvider extends ProviderBase {
  /** The live attachments of each of `volumeIds`. */
  async readVolumes(volumeIds: readonly string[]): Promise<ActualAttachment[]> {
    const all = await Promise.all(
      volumeIds.map((volumeId) => allPages(async (after) => (await this.client.request(StackAttachmentsDocument, { first: PAGE, after, filter: { volumeId } })).attachments)),
    );
    return all.flat().map(toActualAttachment);
  }

  async read(id: string): Promise<ActualAttachment | null> {
    const { attachment } = await this.client.request(StackAttachmentDocument, { id });
    return attachment && attachment.status !== 'DETACHED' ? toActualAttachment(attachment) : null;
  }

  /** Attaches `desired` to volume `volumeId` and waits for the export; the consumer then connects and completes it. */
  async create(stack: string, desired: DesiredAttachment, volumeId: string | null): Promise<ActualAttachment> {
    const input = attachmentInput(desired, volumeId!);
    const address = `attachment.${desired.resource}`;
    const { createAttachment } = await this.keyed(
      (attempt) => createKey(stack, desired.resource, input, attempt),
      (idempotencyKey) => this.client.request(CreateAttachmentDocument, { input: { ...input, idempotencyKey } }),
    );
    const made = createAttachment.attachment;
    this.report(`${address}: attaching ${made.id} of volume ${volumeId!} to ${desired.instanceId} (operation ${createAttachment.operation?.id ?? 'none'})`);
    await this.await(address, createAttachment.operation);
    return this.exported(desired.resource, made.id);
  }

  /** Gives a RESERVED attachment its connector (the only change an attachment takes in place). */
  async update(resource: string, actual: ActualAttachment, fields: readonly FieldChange[]): Promise<ActualAttachment> {
    const connector = fields.find((f) => f.field === 'connector')?.to as DesiredAttachment['connector'] | undefined;
    if (!connector) throw new ProviderError('BAD_USER_INPUT', `attachment.${resource}: only a RESERVED attachment's connector can change in place (asked: ${fields.map((f) => f.field).join(', ')})`);
    const { updateAttachment } = await this.client.request(UpdateAttachmentDocument, { input: { id: actual.id, connector } });
    await this.await(`attachment.${resource}`, updateAttachment.operation);
    return this.exported(resource, actual.id);
  }

  /** Detaches `actual` and waits; one already detached is success. */
  async delete(resource: string, actual: ActualAttachment): Promise<void> {
    const { deleteAttachment } = await this.client.request(DeleteAttachmentDocument, { id: actual.id });
    if (deleteAttachment.alreadyDeleted) return this.report(`attachment.${resource}: ${actual.id} was already detached`);
    await this.await(`attachment.${resource}`, deleteAttachment.operation);
  }

  /** The attachment once exported, with one line saying how its consumer connects. */
  private async exported(resource: string, id: string): Promise<ActualAttachment> {
    const { attachment } = await this.client.request(StackAttachmentDocument, { id });
    if (!attachment || attachment.status === 'DETACHED') throw new ProviderError('NOT_FOUND', `attachment.${resource} (${id}) is gone: it was detached while the apply ran.`);
    const info = attachment.connectionInfo;
    const target = info?.data.targetIqn ? `${info.data.targetIqn} at ${info.data.targetPortal ?? '?'}` : (info?.data.uri ?? null);
    this.report(`attachment.${resource}: ${attachment.status}${target ? `, ${info!.driverVolumeType} ${target}` : ''}; the consumer connects, then calls completeAttachment`);
    return toActualAttachment(attachment);
  }
}
