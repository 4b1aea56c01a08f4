/**
 * The volume provider: a stack's volumes read from Flint and changed through the typed SDK,
 * in the shape of terraform-plugin-framework's resource and Crossplane's ExternalClient —
 * `read` (null: gone, so a plan creates it again), `create` (with an idempotency key, then
 * the operation awaited), `update` (each field by its mutation, conditional on the version
 * read), `delete` (idempotent) and `adopt` (import by id).
 */
import {
  CreateVolumeDocument,
  DeleteVolumeDocument,
  ExtendVolumeDocument,
  RetypeVolumeDocument,
  StackVolumeDocument,
  StackVolumesDocument,
  UpdateVolumeDocument,
  type CreateVolumeInput,
  type OperationFieldsFragment,
  type StackVolumeFieldsFragment,
} from '../client/index.js';
import { TRANSITIONAL_STATUSES } from '../domain/index.js';
import { createKey } from './keys.js';
import { STACK_LABEL } from './labels.js';
import type { ActualVolume, DesiredVolume, FieldChange } from './plan-types.js';
import { LabelledProvider } from './labelled-provider.js';
import { allPages, PAGE, stringMap } from './provider-base.js';

/**
 * Statuses a volume leaves by itself, from which no change starts: an update waits them out
 * (an apply stopped half-way leaves a volume CREATING or EXTENDING). RESERVED waits on a
 * consumer, and DELETING is gone, so neither is waited for.
 */
const SETTLING = new Set(TRANSITIONAL_STATUSES.filter((s) => s !== 'reserved' && s !== 'deleting').map((s) => s.toUpperCase()));

/** A volume as read, in the plan's terms. */
export function toActual(v: StackVolumeFieldsFragment): ActualVolume {
  return {
    id: v.id,
    name: v.name,
    description: v.description,
    metadata: stringMap(v.metadata),
    sizeGiB: v.sizeGiB,
    volumeType: v.volumeType,
    availabilityZone: v.availabilityZone,
    multiattach: v.multiattach,
    status: v.status,
    version: v.version,
    generation: v.generation,
  };
}

/** The createVolume input of `desired`, without its key. */
export function createInput(desired: DesiredVolume): CreateVolumeInput {
  return {
    name: desired.name,
    sizeGiB: desired.sizeGiB,
    description: desired.description,
    metadata: desired.metadata,
    ...(desired.volumeType != null && { volumeType: desired.volumeType }),
    ...(desired.availabilityZone !== undefined && { availabilityZone: desired.availabilityZone }),
    ...(desired.multiattach !== undefined && { multiattach: desired.multiattach }),
  };
}

export class VolumeProvider extends LabelledProvider<ActualVolume> {
  protected readonly kind = 'volume';

  /** Every volume of the token's project that carries `stack`'s label (a metadata filter: the server picks them). */
  async readStack(stack: string): Promise<ActualVolume[]> {
    const filter = { projectId: await this.projectId(), metadata: { [STACK_LABEL]: stack } };
    const nodes = await allPages(async (after) => (await this.client.request(StackVolumesDocument, { first: PAGE, after, filter })).volumes);
    return nodes.map(toActual);
  }

  /** One volume by id; null when it is gone (deleted, or not visible to the token). */
  async read(id: string): Promise<ActualVolume | null> {
    const { volume } = await this.client.request(StackVolumeDocument, { id });
    return volume && volume.status !== 'DELETED' ? toActual(volume) : null;
  }

  /**
   * Creates `desired` as resource of `stack` and waits for its create to end. The key is
   * derived ({@link createKey}): a repeat of this call, from this apply or another, answers
   * with the same volume. A key spent on a volume deleted since is CONFLICT: the next is tried.
   */
  async create(stack: string, desired: DesiredVolume): Promise<ActualVolume> {
    const input = createInput(desired);
    const address = `volume.${desired.resource}`;
    const { createVolume } = await this.keyed(
      (attempt) => createKey(stack, desired.resource, input, attempt),
      (idempotencyKey) => this.client.request(CreateVolumeDocument, { input: { ...input, idempotencyKey } }),
    );
    this.report(`${address}: creating ${createVolume.volume.id} (operation ${createVolume.operation?.id ?? 'none'})`);
    await this.await(address, createVolume.operation);
    return this.mustRead(desired.resource, createVolume.volume.id);
  }

  /**
   * Changes `fields` of `actual` in place, by mutation: updateVolume (name, description,
   * metadata) first, then extendVolume, then retypeVolume (ON_DEMAND: it may move to a pool
   * of the new type), each awaited. The first is conditional on the version read just before,
   * once its `generation` shows no one changed its fields since the plan (for a volume still
   * CREATING, EXTENDING…, on the version its operation ends with); each later one on the
   * version the one before left.
   * @throws ProviderError CONFLICT when the volume changed since it was read (nothing is overwritten).
   */
  async update(resource: string, actual: ActualVolume, fields: readonly FieldChange[]): Promise<ActualVolume> {
    const address = `volume.${resource}`;
    let version: number;
    if (SETTLING.has(actual.status)) {
      // An operation is still running on it (an apply stopped half-way started it): no change starts before it ends.
      this.report(`${address}: waiting for it to leave ${actual.status}`);
      version = (await this.client.waitForVolume(actual.id, (v) => !SETTLING.has(v.status), this.timeoutMs)).version;
    } else {
      version = ((await this.current(resource, actual)) ?? this.gone(resource, actual.id)).version;
    }
    const by = (mutation: string) => fields.filter((f) => f.mutation === mutation);
    const step = async (what: string, run: (expectedVersion: number) => Promise<OperationFieldsFragment | null>) => {
      await this.await(address, await this.conditional(resource, actual.id, version, what, () => run(version)));
      version = (await this.mustRead(resource, actual.id)).version;
    };
    const updates = by('updateVolume');
    if (updates.length) {
      const change = Object.fromEntries(updates.map((f) => [f.field, f.to]));
      await step('updateVolume', async (expectedVersion) => (await this.client.request(UpdateVolumeDocument, { input: { id: actual.id, expectedVersion, ...change } })).updateVolume.operation);
    }
    for (const f of by('extendVolume')) {
      await step('extendVolume', async (expectedVersion) => (await this.client.request(ExtendVolumeDocument, { input: { id: actual.id, expectedVersion, newSizeGiB: f.to as number } })).extendVolume.operation);
    }
    for (const f of by('retypeVolume')) {
      const input = { id: actual.id, volumeType: f.to as string, migrationPolicy: 'ON_DEMAND' as const };
      await step('retypeVolume', async (expectedVersion) => (await this.client.request(RetypeVolumeDocument, { input: { ...input, expectedVersion } })).retypeVolume.operation);
    }
    return this.mustRead(resource, actual.id);
  }

  /**
   * Deletes `actual` and waits, when its fields are as the plan read them (conditional on the
   * version read just before); a volume already deleted is success.
   */
  async delete(resource: string, actual: ActualVolume): Promise<void> {
    const now = await this.current(resource, actual);
    const { deleteVolume } = now
      ? await this.client.request(DeleteVolumeDocument, { input: { id: actual.id, expectedVersion: now.version } })
      : { deleteVolume: { alreadyDeleted: true, operation: null } };
    if (deleteVolume.alreadyDeleted) {
      this.report(`volume.${resource}: ${actual.id} was already deleted`);
      return;
    }
    this.report(`volume.${resource}: deleting ${actual.id} (operation ${deleteVolume.operation?.id ?? 'none'})`);
    await this.await(`volume.${resource}`, deleteVolume.operation);
  }

  protected async relabel(id: string, expectedVersion: number, metadata: Record<string, string>): Promise<void> {
    await this.client.request(UpdateVolumeDocument, { input: { id, expectedVersion, metadata } });
  }
}
