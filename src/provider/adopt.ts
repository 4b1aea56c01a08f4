/**
 * `flint import` of a labelled resource (a volume or a snapshot): the stack's labels are added
 * to its metadata, conditional on the version read, after checking that no one else holds it
 * or its name.
 */
import { FlintApiError } from '../client/index.js';
import { labelsFor, ownerOf } from './labels.js';
import { ProviderError } from './provider-base.js';

/** A resource that carries labels. */
export interface Labelled {
  id: string;
  status: string;
  version: number;
  metadata: Record<string, string>;
}

/** How one kind of labelled resource is read and relabelled. */
export interface LabelIo<T extends Labelled> {
  kind: 'volume' | 'snapshot';
  read(id: string): Promise<T | null>;
  readStack(stack: string): Promise<T[]>;
  relabel(id: string, expectedVersion: number, metadata: Record<string, string>): Promise<void>;
}

/**
 * Adopts resource `id` as `<kind>.<resource>` of `stack`. Returns it, and whether it already
 * was that resource (then nothing was sent).
 * @throws ProviderError NOT_FOUND; CONFLICT when another stack owns it, it is another
 *   resource of this stack, another one already is this resource, or it changed meanwhile.
 */
export async function adoptLabelled<T extends Labelled>(io: LabelIo<T>, stack: string, resource: string, id: string): Promise<{ resource: T; already: boolean }> {
  const Kind = `${io.kind[0]!.toUpperCase()}${io.kind.slice(1)}`;
  const found = await io.read(id);
  if (!found) throw new ProviderError('NOT_FOUND', `No ${io.kind} ${id} (or it is not visible to this token).`);
  const owner = ownerOf(found.metadata);
  if (owner && owner.stack !== stack) throw new ProviderError('CONFLICT', `${Kind} ${id} belongs to stack ${owner.stack} (as ${io.kind}.${owner.name ?? '?'}); it cannot be imported into ${stack}.`);
  if (owner && owner.name === resource) return { resource: found, already: true };
  if (owner) throw new ProviderError('CONFLICT', `${Kind} ${id} already is ${io.kind}.${owner.name ?? '?'} of stack ${stack}.`);
  const holder = (await io.readStack(stack)).find((r) => ownerOf(r.metadata)?.name === resource && r.status !== 'DELETING');
  if (holder) throw new ProviderError('CONFLICT', `${io.kind}.${resource} of stack ${stack} already is ${io.kind} ${holder.id}; delete it or import into another name.`);
  try {
    await io.relabel(id, found.version, { ...found.metadata, ...labelsFor(stack, resource) });
  } catch (err) {
    if (err instanceof FlintApiError && err.code === 'CONFLICT') throw new ProviderError('CONFLICT', `${Kind} ${id} changed while it was being imported; run the import again.`, { cause: err });
    throw err;
  }
  const adopted = await io.read(id);
  if (!adopted) throw new ProviderError('NOT_FOUND', `${Kind} ${id} was deleted while it was being imported.`);
  return { resource: adopted, already: false };
}
