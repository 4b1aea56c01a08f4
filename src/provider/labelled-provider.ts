/**
 * What the providers of labelled resources (volumes and snapshots: found by their stack
 * labels, with a `generation`) share: reading one that must still be there, the
 * generation check before a change, conditional changes whose CONFLICT says what moved, and
 * `flint import` (the stack's labels added, after checking no one else holds it or its name).
 */
import { FlintApiError } from '../client/index.js';
import { labelsFor, ownerOf } from './labels.js';
import type { Generational } from './plan-types.js';
import { ProviderBase, ProviderError } from './provider-base.js';

/** A resource that carries labels and counts the changes to its user-set fields. */
export interface Labelled extends Generational {
  metadata: Record<string, string>;
}

export abstract class LabelledProvider<T extends Labelled> extends ProviderBase {
  /** The kind, as addresses name it (`volume.db`). */
  protected abstract readonly kind: 'volume' | 'snapshot';

  /** One by id; null when it is gone (deleted, or not visible to the token). */
  abstract read(id: string): Promise<T | null>;

  /** Every one of the token's project that carries `stack`'s label. */
  abstract readStack(stack: string): Promise<T[]>;

  /** Sets the metadata of `id`, conditional on `expectedVersion`. */
  protected abstract relabel(id: string, expectedVersion: number, metadata: Record<string, string>): Promise<void>;

  /** @throws ProviderError NOT_FOUND: `<kind>.<resource>` was deleted while the apply ran. */
  protected gone(resource: string, id: string): never {
    throw new ProviderError('NOT_FOUND', `${this.kind}.${resource} (${id}) is gone: it was deleted while the apply ran.`);
  }

  protected async mustRead(resource: string, id: string): Promise<T> {
    return (await this.read(id)) ?? this.gone(resource, id);
  }

  /**
   * The resource as it is now, when the fields the user sets are still as the plan read them
   * (same `generation`): a change is then made conditional on the version read now, not the
   * plan's, since status moves the apply itself caused (a detach before a delete) bump the
   * version but change nothing the plan decided on. Null when it is gone.
   * @throws ProviderError CONFLICT when someone changed its fields since the plan read it.
   */
  protected async current(resource: string, planned: T): Promise<T | null> {
    const now = await this.read(planned.id);
    if (now && now.generation !== planned.generation) {
      throw new ProviderError(
        'CONFLICT',
        `${this.kind}.${resource} (${planned.id}) was changed since it was read (generation ${planned.generation}, now ${now.generation}); nothing was overwritten: run \`flint plan\` again`,
      );
    }
    return now;
  }

  /**
   * Runs `change`, conditional on `version`; its CONFLICT becomes a ProviderError saying what
   * the resource is now, and that nothing was overwritten.
   */
  protected async conditional<R>(resource: string, id: string, version: number, what: string, change: () => Promise<R>): Promise<R> {
    try {
      return await change();
    } catch (err) {
      if (err instanceof FlintApiError && err.code === 'CONFLICT') {
        const now = await this.read(id);
        throw new ProviderError(
          'CONFLICT',
          `${this.kind}.${resource} (${id}) changed since it was read (version ${version}, now ${now ? `${now.version}, ${now.status}` : 'deleted'}); nothing was overwritten: run \`flint plan\` again (${what})`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /**
   * Adopts `id` as `<kind>.<resource>` of `stack` (`flint import`). Returns it, and whether it
   * already was that resource (then nothing was sent).
   * @throws ProviderError NOT_FOUND; CONFLICT when another stack owns it, it is another
   *   resource of this stack, another one already is this resource, or it changed meanwhile.
   */
  async adopt(stack: string, resource: string, id: string): Promise<{ resource: T; already: boolean }> {
    const kind = this.kind;
    const Kind = `${kind[0]!.toUpperCase()}${kind.slice(1)}`;
    const found = await this.read(id);
    if (!found) throw new ProviderError('NOT_FOUND', `No ${kind} ${id} (or it is not visible to this token).`);
    const owner = ownerOf(found.metadata);
    if (owner && owner.stack !== stack) throw new ProviderError('CONFLICT', `${Kind} ${id} belongs to stack ${owner.stack} (as ${kind}.${owner.name ?? '?'}); it cannot be imported into ${stack}.`);
    if (owner && owner.name === resource) return { resource: found, already: true };
    if (owner) throw new ProviderError('CONFLICT', `${Kind} ${id} already is ${kind}.${owner.name ?? '?'} of stack ${stack}.`);
    const holder = (await this.readStack(stack)).find((r) => ownerOf(r.metadata)?.name === resource && r.status !== 'DELETING');
    if (holder) throw new ProviderError('CONFLICT', `${kind}.${resource} of stack ${stack} already is ${kind} ${holder.id}; delete it or import into another name.`);
    try {
      await this.relabel(id, found.version, { ...found.metadata, ...labelsFor(stack, resource) });
    } catch (err) {
      if (err instanceof FlintApiError && err.code === 'CONFLICT') throw new ProviderError('CONFLICT', `${Kind} ${id} changed while it was being imported; run the import again.`, { cause: err });
      throw err;
    }
    const adopted = await this.read(id);
    if (!adopted) throw new ProviderError('NOT_FOUND', `${Kind} ${id} was deleted while it was being imported.`);
    return { resource: adopted, already: false };
  }
}
