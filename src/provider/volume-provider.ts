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
  FlintApiError,
  RetypeVolumeDocument,
  StackVolumeDocument,
  StackVolumesDocument,
  UpdateVolumeDocument,
  ViewerDocument,
  type CreateVolumeInput,
  type FlintClient,
  type OperationFieldsFragment,
  type StackVolumeFieldsFragment,
  type StackVolumesQuery,
} from '../client/index.js';
import { createKey } from './keys.js';
import { labelsFor, ownerOf } from './labels.js';
import type { ActualVolume, DesiredVolume, FieldChange } from './plan.js';

/** How long one operation (a create, an extend, a retype, a delete) may take. @default 300_000 */
export const DEFAULT_OPERATION_TIMEOUT_MS = 300_000;
/** Keys tried for one create before giving up (each earlier one spent on a deleted volume). @default 16 */
export const MAX_KEY_ATTEMPTS = 16;
const PAGE = 500;

/** A change the provider could not make; `code` is the API's (CONFLICT, INVALID_STATE…) or FAILED. */
export class ProviderError extends Error {
  readonly code: string;

  constructor(code: string, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.name = 'ProviderError';
    this.code = code;
  }
}

export interface ProviderOptions {
  /** Progress, one line at a time (`volume.db: create_volume RUNNING`). */
  report?: (line: string) => void;
  /** @default DEFAULT_OPERATION_TIMEOUT_MS */
  operationTimeoutMs?: number;
}

/** A volume as read, in the plan's terms. */
export function toActual(v: StackVolumeFieldsFragment): ActualVolume {
  return {
    id: v.id,
    name: v.name,
    description: v.description,
    metadata: Object.fromEntries(Object.entries(v.metadata).map(([k, x]) => [k, String(x)])),
    sizeGiB: v.sizeGiB,
    volumeType: v.volumeType,
    availabilityZone: v.availabilityZone,
    multiattach: v.multiattach,
    status: v.status,
    version: v.version,
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

export class VolumeProvider {
  private readonly report: (line: string) => void;
  private readonly timeoutMs: number;
  private project: string | undefined;

  constructor(
    private readonly client: FlintClient,
    opts: ProviderOptions = {},
  ) {
    this.report = opts.report ?? (() => {});
    this.timeoutMs = opts.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  }

  /**
   * Every volume of the token's project that carries `stack`'s label. The API has no filter
   * by metadata: the project's volumes (all pages) are listed and filtered here.
   */
  async readStack(stack: string): Promise<ActualVolume[]> {
    this.project ??= (await this.client.request(ViewerDocument)).viewer.projectId;
    const found: ActualVolume[] = [];
    let after: string | null = null;
    for (;;) {
      const { volumes }: StackVolumesQuery = await this.client.request(StackVolumesDocument, { first: PAGE, after, filter: { projectId: this.project } });
      for (const { node } of volumes.edges) if (ownerOf(node.metadata)?.stack === stack) found.push(toActual(node));
      if (!volumes.pageInfo.hasNextPage || !volumes.pageInfo.endCursor) return found;
      after = volumes.pageInfo.endCursor;
    }
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
    for (let attempt = 0; ; attempt++) {
      const idempotencyKey = createKey(stack, desired.resource, input, attempt);
      try {
        const { createVolume } = await this.client.request(CreateVolumeDocument, { input: { ...input, idempotencyKey } });
        this.report(`volume.${desired.resource}: creating ${createVolume.volume.id} (operation ${createVolume.operation?.id ?? 'none'})`);
        await this.await(desired.resource, createVolume.operation);
        return this.mustRead(desired.resource, createVolume.volume.id);
      } catch (err) {
        if (!(err instanceof FlintApiError && err.code === 'CONFLICT') || attempt + 1 >= MAX_KEY_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Changes `fields` of `actual` in place, by mutation: updateVolume (name, description,
   * metadata) first, then extendVolume, then retypeVolume (ON_DEMAND: it may move to a pool
   * of the new type), each awaited. The first is conditional on the version the plan read
   * (or, for a volume still CREATING, the one its create ends with); each later one on the
   * version the one before left.
   * @throws ProviderError CONFLICT when the volume changed since it was read (nothing is overwritten).
   */
  async update(resource: string, actual: ActualVolume, fields: readonly FieldChange[]): Promise<ActualVolume> {
    let version = actual.version;
    if (actual.status === 'CREATING') {
      // Its create is still running (an apply stopped half-way made it): no change starts from CREATING.
      this.report(`volume.${resource}: waiting for its create to end`);
      const created = await this.client.waitForVolume(actual.id, (v) => v.status !== 'CREATING', this.timeoutMs);
      version = created.version;
    }
    const by = (mutation: string) => fields.filter((f) => f.mutation === mutation);
    const step = async (what: string, run: (expectedVersion: number) => Promise<OperationFieldsFragment | null>) => {
      try {
        await this.await(resource, await run(version));
      } catch (err) {
        if (err instanceof FlintApiError && err.code === 'CONFLICT') {
          const now = await this.read(actual.id);
          throw new ProviderError(
            'CONFLICT',
            `volume.${resource} (${actual.id}) changed since it was read (version ${version}, now ${now ? `${now.version}, ${now.status}` : 'deleted'}); nothing was overwritten: run \`flint plan\` again (${what})`,
            { cause: err },
          );
        }
        throw err;
      }
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

  /** Deletes `actual` (conditional on its version) and waits; a volume already deleted is success. */
  async delete(resource: string, actual: ActualVolume): Promise<void> {
    const { deleteVolume } = await this.client.request(DeleteVolumeDocument, { input: { id: actual.id, expectedVersion: actual.version } });
    if (deleteVolume.alreadyDeleted) {
      this.report(`volume.${resource}: ${actual.id} was already deleted`);
      return;
    }
    this.report(`volume.${resource}: deleting ${actual.id} (operation ${deleteVolume.operation?.id ?? 'none'})`);
    await this.await(resource, deleteVolume.operation);
  }

  /**
   * Adopts volume `id` as resource `resource` of `stack` (`flint import`): adds the stack's
   * labels to its metadata, conditional on the version read. Returns it, and whether it
   * already was that resource (then nothing was sent).
   * @throws ProviderError NOT_FOUND; CONFLICT when another stack owns it, it is another
   *   resource of this stack, or another volume already is this resource.
   */
  async adopt(stack: string, resource: string, id: string): Promise<{ volume: ActualVolume; already: boolean }> {
    const volume = await this.read(id);
    if (!volume) throw new ProviderError('NOT_FOUND', `No volume ${id} (or it is not visible to this token).`);
    const owner = ownerOf(volume.metadata);
    if (owner && owner.stack !== stack) throw new ProviderError('CONFLICT', `Volume ${id} belongs to stack ${owner.stack} (as volume.${owner.name ?? '?'}); it cannot be imported into ${stack}.`);
    if (owner && owner.name === resource) return { volume, already: true };
    if (owner) throw new ProviderError('CONFLICT', `Volume ${id} already is volume.${owner.name ?? '?'} of stack ${stack}.`);
    const holder = (await this.readStack(stack)).find((v) => ownerOf(v.metadata)?.name === resource && v.status !== 'DELETING');
    if (holder) throw new ProviderError('CONFLICT', `volume.${resource} of stack ${stack} already is volume ${holder.id}; delete it or import into another name.`);
    const metadata = { ...volume.metadata, ...labelsFor(stack, resource) };
    try {
      await this.client.request(UpdateVolumeDocument, { input: { id, expectedVersion: volume.version, metadata } });
    } catch (err) {
      if (err instanceof FlintApiError && err.code === 'CONFLICT') throw new ProviderError('CONFLICT', `Volume ${id} changed while it was being imported; run the import again.`, { cause: err });
      throw err;
    }
    return { volume: await this.mustRead(resource, id), already: false };
  }

  private async mustRead(resource: string, id: string): Promise<ActualVolume> {
    const v = await this.read(id);
    if (!v) throw new ProviderError('NOT_FOUND', `volume.${resource} (${id}) is gone: it was deleted while the apply ran.`);
    return v;
  }

  /** Waits for `operation` to end, reporting each status once; a FAILED one is a ProviderError with its error. */
  private async await(resource: string, operation: OperationFieldsFragment | null): Promise<void> {
    if (!operation || operation.status === 'SUCCEEDED') return;
    let last = '';
    const started = Date.now();
    const ended = await this.client.waitForOperation(operation.id, this.timeoutMs, (o) => {
      if (o.status !== last) this.report(`volume.${resource}: ${o.kind} ${(last = o.status)}`);
    });
    const took = `${Math.round((Date.now() - started) / 100) / 10}s`;
    if (ended.status === 'FAILED') {
      throw new ProviderError(ended.error?.code ?? 'FAILED', `volume.${resource}: ${ended.kind} failed after ${took}: ${ended.error?.message ?? 'no message'}`);
    }
  }
}
