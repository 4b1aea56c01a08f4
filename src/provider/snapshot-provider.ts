/**
 * The snapshot provider: a stack's snapshots, found by their labels as volumes are, made with
 * a derived idempotency key, renamed or relabelled in place by updateSnapshot conditional on
 * the version read, deleted idempotently, and imported by id.
 */
import {
  CreateSnapshotDocument,
  DeleteSnapshotDocument,
  StackSnapshotDocument,
  StackSnapshotsDocument,
  UpdateSnapshotDocument,
  type CreateSnapshotInput,
  type StackSnapshotFieldsFragment,
} from '../client/index.js';
import { createKey } from './keys.js';
import { STACK_LABEL } from './labels.js';
import type { ActualSnapshot, DesiredSnapshot, FieldChange } from './plan-types.js';
import { LabelledProvider } from './labelled-provider.js';
import { allPages, PAGE, stringMap } from './provider-base.js';

export function toActualSnapshot(s: StackSnapshotFieldsFragment): ActualSnapshot {
  return { id: s.id, volumeId: s.volumeId, name: s.name, description: s.description ?? null, metadata: stringMap(s.metadata), status: s.status, version: s.version, generation: s.generation };
}

/** The createSnapshot input of `desired`, of volume `volumeId`, without its key. */
export function snapshotInput(desired: DesiredSnapshot, volumeId: string): CreateSnapshotInput {
  return { volumeId, name: desired.name, description: desired.description, metadata: desired.metadata, ...(desired.force !== undefined && { force: desired.force }) };
}

export class SnapshotProvider extends LabelledProvider<ActualSnapshot> {
  protected readonly kind = 'snapshot';

  /** Every snapshot of the token's project that carries `stack`'s label. */
  async readStack(stack: string): Promise<ActualSnapshot[]> {
    const filter = { projectId: await this.projectId(), metadata: { [STACK_LABEL]: stack } };
    const nodes = await allPages(async (after) => (await this.client.request(StackSnapshotsDocument, { first: PAGE, after, filter })).snapshots);
    return nodes.map(toActualSnapshot);
  }

  /** One snapshot by id; null when it is gone. */
  async read(id: string): Promise<ActualSnapshot | null> {
    const { snapshot } = await this.client.request(StackSnapshotDocument, { id });
    return snapshot && snapshot.status !== 'DELETED' ? toActualSnapshot(snapshot) : null;
  }

  /** Takes `desired` of volume `volumeId` and waits for it; a repeat answers with the same snapshot (its key). */
  async create(stack: string, desired: DesiredSnapshot, volumeId: string | null): Promise<ActualSnapshot> {
    const input = snapshotInput(desired, volumeId!);
    const address = `snapshot.${desired.resource}`;
    const { createSnapshot } = await this.keyed(
      (attempt) => createKey(stack, desired.resource, input, attempt),
      (idempotencyKey) => this.client.request(CreateSnapshotDocument, { input: { ...input, idempotencyKey } }),
    );
    this.report(`${address}: creating ${createSnapshot.snapshot.id} of volume ${volumeId!} (operation ${createSnapshot.operation?.id ?? 'none'})`);
    await this.await(address, createSnapshot.operation);
    return this.mustRead(desired.resource, createSnapshot.snapshot.id);
  }

  /** Sets `fields` (name, description, metadata) by one updateSnapshot, when no one changed them since the plan read them. */
  async update(resource: string, actual: ActualSnapshot, fields: readonly FieldChange[]): Promise<ActualSnapshot> {
    const address = `snapshot.${resource}`;
    const change = Object.fromEntries(fields.map((f) => [f.field, f.to]));
    const { version } = (await this.current(resource, actual)) ?? this.gone(resource, actual.id);
    const { updateSnapshot } = await this.conditional(resource, actual.id, version, 'updateSnapshot', () =>
      this.client.request(UpdateSnapshotDocument, { input: { id: actual.id, expectedVersion: version, ...change } }),
    );
    await this.await(address, updateSnapshot.operation);
    return this.mustRead(resource, actual.id);
  }

  /** Deletes `actual` when its fields are as the plan read them (conditional on the version read just before) and waits; one already deleted is success. */
  async delete(resource: string, actual: ActualSnapshot): Promise<void> {
    const now = await this.current(resource, actual);
    const { deleteSnapshot } = now
      ? await this.client.request(DeleteSnapshotDocument, { input: { id: actual.id, expectedVersion: now.version } })
      : { deleteSnapshot: { alreadyDeleted: true, operation: null } };
    if (deleteSnapshot.alreadyDeleted) return this.report(`snapshot.${resource}: ${actual.id} was already deleted`);
    await this.await(`snapshot.${resource}`, deleteSnapshot.operation);
  }

  protected async relabel(id: string, expectedVersion: number, metadata: Record<string, string>): Promise<void> {
    await this.client.request(UpdateSnapshotDocument, { input: { id, expectedVersion, metadata } });
  }
}
