/**
 * The compare-and-set of a row that has a `generation` (volumes, snapshots): version + 1
 * always, generation + 1 only when a user field takes a new value (src/domain/generation.ts).
 *
 * A change that names no user field (a status move) is one UPDATE, as before. One that names
 * some reads the row first, decides on its values, and pins the UPDATE to the version it
 * read, so the decision and the write are about the same row; when the row moved in between
 * (and the guard still holds), it reads and tries again. The caller's guard and the answer
 * (applied or not) are unchanged by this.
 */
import type { EntityClass, EntityData, FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { movesGeneration, namesUserField } from '../domain/generation.js';
import { updateRows } from './update-rows.js';

/** Reads of the pinned UPDATE before giving up on pinning (then the generation moves: a change is not missed). */
const PINNED_TRIES = 5;

export interface GenerationCas<T extends { id: string; version: number; generation: number }> {
  entity: EntityClass<T>;
  /** The caller's guard: id, states, expected version… */
  where: FilterQuery<T>;
  /** The version the caller expects, when it gave one (the pinned UPDATE must not contradict it). */
  expectedVersion: number | undefined;
  changes: Partial<T>;
  userFields: readonly (keyof T)[];
  /** The changes record what an agent found (a managed image's measured size), not what a user asked: the generation stays. */
  observed?: boolean;
  read(): Promise<T | null>;
}

/** Applies the change when the guard holds; true when it did. */
export async function casWithGeneration<T extends { id: string; version: number; generation: number }>(em: EntityManager, c: GenerationCas<T>): Promise<boolean> {
  const set = { ...c.changes, updatedAt: new Date() } as EntityData<T>;
  const update = async (where: FilterQuery<T>, moves: boolean) => (await updateRows(em, c.entity, where, set, moves ? ['version', 'generation'] : ['version'])) === 1;
  if (c.observed || !namesUserField(c.userFields, c.changes)) return update(c.where, false);
  for (let attempt = 1; attempt <= PINNED_TRIES; attempt++) {
    const before = await c.read();
    if (!before || (c.expectedVersion !== undefined && before.version !== c.expectedVersion)) return false;
    const moves = movesGeneration(c.userFields, before, c.changes);
    const pinned = { ...(c.where as object), version: before.version } as FilterQuery<T>;
    if (await update(pinned, moves)) return true;
    // Not applied: the guard failed (the row is at the version read), or the row moved since the read.
    const now = await c.read();
    if (!now || now.version === before.version) return false;
  }
  return update(c.where, true);
}
