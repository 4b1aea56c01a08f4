/**
 * Keyset pagination, once for every list: rows ordered by (createdAt, id), one page after
 * the last row of the previous one (forward) or before the first row of the next one
 * (backward). A Relay connection's cursor encodes that (createdAt, id) pair
 * (src/resolvers/types/relay.ts).
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { EntityName, FilterQuery } from '@mikro-orm/core';

/** One page of a keyset-paginated list, as every store's `list…` returns it (a Relay connection's rows), in the list's order. */
export interface Page<T> {
  rows: T[];
  /** Whether rows matching the filter come after the page's last row (after `before` when the page is empty). */
  hasNextPage: boolean;
  /** Whether rows matching the filter come before the page's first row (at or before `after` when the page is empty). */
  hasPreviousPage: boolean;
  totalCount: number;
  /**
   * For lists in the change feed (volumes, snapshots, backups, attachments): the project's
   * change seq, read before the page; null when the list spans every project (an admin's).
   */
  changeSeq?: number | null;
}

/** A row's place in a list: its creation time and id. */
export interface Keyset {
  createdAt: Date;
  id: string;
}

/**
 * What every list takes: forward, `first` rows after the row `after` (from the start without
 * it); or backward, the `last` rows before the row `before` (the end of the list without it),
 * still in the list's order.
 */
export type PageRequest = { first: number; after?: Keyset; last?: never; before?: never } | { last: number; before?: Keyset; first?: never; after?: never };

interface Keyed {
  createdAt: Date;
  id: string;
}

type Order = 'asc' | 'desc';

/** Rows strictly past `k` when reading in `order`, or (`past` false) the others: `k`'s row and those before it. */
function side<T>(k: Keyset, order: Order, past: boolean): FilterQuery<T> {
  const [strict, orEqual] = (order === 'asc') === past ? (['$gt', '$gte'] as const) : (['$lt', '$lte'] as const);
  return { $or: [{ createdAt: { [strict]: k.createdAt } }, { createdAt: k.createdAt, id: { [past ? strict : orEqual]: k.id } }] } as FilterQuery<T>;
}

function and<T>(a: FilterQuery<T>, b: FilterQuery<T>): FilterQuery<T> {
  return { $and: [a, b] } as FilterQuery<T>;
}

/** `where` with `conditions` that must hold too (none: `where` as it is). */
export function withAnd<T>(where: FilterQuery<T>, conditions: FilterQuery<T>[]): FilterQuery<T> {
  return conditions.length ? ({ ...(where as object), $and: conditions } as FilterQuery<T>) : where;
}

/**
 * One page of `entity` rows matching `filter` (a function: what it returns, built once per
 * query), in the list's `order`: oldest first (`asc`) or
 * newest first (`desc`), with the count of all matching rows. A backward page reads the list
 * in reverse from its cursor, `last + 1` rows, and turns them round.
 *
 * Both flags are exact. The one on the page's own side comes from the extra row read; the
 * one behind its cursor (`hasPreviousPage` after `after`, `hasNextPage` before `before`) from
 * one more query of at most one row, run only when a cursor is given: whether any matching
 * row is the cursor's own or lies on its far side from the page (a cursor whose row was
 * deleted or no longer matches still counts the rows on that side). First/after clients pay
 * that query too; it reads one row by the keyset, next to the count every page already makes.
 */
export async function keysetPage<T extends Keyed>(
  em: EntityManager,
  entity: EntityName<T>,
  filter: FilterQuery<T> | (() => FilterQuery<T>),
  request: PageRequest & { order: Order },
): Promise<Page<T>> {
  // A filter with raw SQL fragments (./metadata-sql.ts) is built anew for each query: MikroORM renders a fragment once.
  const where = typeof filter === 'function' ? filter : () => filter;
  const backward = request.last !== undefined;
  const size = backward ? request.last : request.first;
  const cursor = backward ? request.before : request.after;
  const read: Order = backward === (request.order === 'asc') ? 'desc' : 'asc';
  const totalCount = await em.count(entity, where());
  const condition = cursor ? and(where(), side(cursor, read, true)) : where();
  const orderBy = { createdAt: read, id: read } as never;
  const rows = await em.find(entity, condition, { orderBy, limit: size + 1, disableIdentityMap: true });
  const more = rows.length > size;
  const page = rows.slice(0, size);
  if (backward) page.reverse();
  const behind = cursor ? (await em.findOne(entity, and(where(), side(cursor, read, false)), { fields: ['id'] as never, disableIdentityMap: true })) !== null : false;
  return { rows: page, hasNextPage: backward ? behind : more, hasPreviousPage: backward ? more : behind, totalCount };
}
