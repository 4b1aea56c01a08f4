/**
 * Keyset pagination, once for every list: rows ordered by (createdAt, id), one page after
 * the last row of the previous one. A Relay connection's cursor encodes that (createdAt, id)
 * pair (src/resolvers/types/relay.ts).
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { EntityName, FilterQuery } from '@mikro-orm/core';

/** One page of a keyset-paginated list, as every store's `list…` returns it (a Relay connection's rows). */
export interface Page<T> {
  rows: T[];
  hasNextPage: boolean;
  totalCount: number;
}

/** Where the previous page ended: its last row's creation time and id. */
export interface Keyset {
  createdAt: Date;
  id: string;
}

/** What every list takes: the page size and where the previous page ended. */
export interface PageRequest {
  first: number;
  after?: Keyset;
}

interface Keyed {
  createdAt: Date;
  id: string;
}

/**
 * One page of `entity` rows matching `where`, oldest first (`asc`) or newest first (`desc`),
 * with the count of all matching rows.
 */
export async function keysetPage<T extends Keyed>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  request: PageRequest & { order: 'asc' | 'desc' },
): Promise<Page<T>> {
  const { first, after, order } = request;
  const totalCount = await em.count(entity, where);
  const beyond = order === 'asc' ? '$gt' : '$lt';
  const page = after
    ? ({ $and: [where, { $or: [{ createdAt: { [beyond]: after.createdAt } }, { createdAt: after.createdAt, id: { [beyond]: after.id } }] }] } as FilterQuery<T>)
    : where;
  const rows = await em.find(entity, page, { orderBy: { createdAt: order, id: order } as never, limit: first + 1, disableIdentityMap: true });
  return { rows: rows.slice(0, first), hasNextPage: rows.length > first, totalCount };
}
