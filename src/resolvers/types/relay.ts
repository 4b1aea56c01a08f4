/**
 * Relay pagination, once: `PageInfo`, an `<Name>Edge` / `<Name>Connection` pair per listed
 * type (made by `relayConnection`), the cursor, the descriptions of the paging arguments, and
 * the connection of a page of rows. Every list query pages the same way (an opaque cursor per
 * item; `first`/`after` forward, `last`/`before` backward), so the types and their
 * descriptions are written here once instead of per resource.
 *
 * A cursor is the (createdAt, id) of a row, the keyset the stores page by (src/db/page.ts),
 * as base64url JSON.
 */
import { Field, Float, Int, ObjectType, type ClassType } from 'type-graphql';
import type { Keyset, Page } from '../../db/index.js';
import { findUnsafeChar } from '../../domain/index.js';

@ObjectType({ description: 'Where a page starts and ends, and whether items come before and after it (Relay\'s PageInfo).' })
export class PageInfo {
  @Field({ description: 'Whether more items follow `endCursor` (on an empty `last`/`before` page: whether any item is at or after `before`). Exact.' })
  hasNextPage!: boolean;

  @Field({
    description:
      'Whether more items come before `startCursor` (on an empty `first`/`after` page: whether any item is at or before `after`). ' +
      'Exact in both directions: false on the first page, and after `after` true only when the list (with its filter) has items before the page.',
  })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first item; pass it as `before` (with `last`) for the page before. Null when the page is empty.' })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last item; pass it as `after` for the next page. Null when the page is empty.' })
  endCursor!: string | null;
}

/** Descriptions of `last` and `before`, the backward half of every list query's paging arguments; `many` names its items (`volumes`). */
export const backwardArgs = {
  last: (many: string) =>
    `Page backward: how many ${many} to return from the end of the list, or just before \`before\`, 0 to 500 (default 50); they come in the list's order. Not with \`first\`.`,
  before: '`pageInfo.startCursor` of the page after the one you want: the page ends just before it. Goes with `last`; not with `after` or `first`.',
} as const;

export interface RelayNames {
  /** GraphQL type name prefix: `Volume` gives `VolumeEdge` and `VolumeConnection`. */
  name: string;
  /** The item in words, singular and plural: `volume`, `volumes`. */
  one: string;
  many: string;
  /** The list's order in words: `oldest first`. */
  order: string;
  /**
   * The subscription that follows the list's changes from its `changeSeq` (`volumeEvents`);
   * absent: the list is not in the change feed (no `changeSeq`).
   */
  changeFeed?: string;
}

export interface Edge<T> {
  node: T;
  cursor: string;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: number;
  changeSeq?: number | null;
}

/** The Edge and Connection object types of `Item` (call once per type, at module level). */
export function relayConnection<T extends object>(Item: ClassType<T>, names: RelayNames) {
  const { name, one, many, order } = names;
  const capitalised = many.charAt(0).toUpperCase() + many.slice(1);

  @ObjectType(`${name}Edge`, { description: `One ${one} of a page, with its position (Relay edge).` })
  class ItemEdge implements Edge<T> {
    @Field(() => Item, { description: `The ${one}.` })
    node!: T;

    @Field(() => String, { description: `Opaque position of this ${one} in the list; pass it as \`after\` to continue after it, or as \`before\` to page back from it.` })
    cursor!: string;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${many}, ${order} (Relay connection).` })
  class ItemConnection implements Connection<T> {
    @Field(() => [ItemEdge], { description: `The ${many} of this page with their cursors; empty past the end.` })
    edges!: ItemEdge[];

    @Field(() => PageInfo, { description: 'Whether pages come before and after this one, and the cursors to fetch them.' })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: `${capitalised} matching the filter, over all pages.` })
    totalCount!: number;

    /** A field only of the lists in the change feed (`changeFeed`, below). */
    changeSeq?: number | null;
  }

  if (names.changeFeed) {
    const follow = `Subscribe to \`${names.changeFeed}(sinceSeq: changeSeq)\` to get every change after it without a gap; items already on this page may show again: keep the higher \`version\`.`;
    Field(() => Float, {
      nullable: true,
      description:
        `The project's change feed seq, read just before this page: every change up to it shows on the page. ${follow} ` +
        'Null for a list over every project (an admin\'s without `filter.projectId`): the feed is per project. An integer, exact to 2^53 (Float because it can pass GraphQL\'s 32-bit Int).',
    })(ItemConnection.prototype, 'changeSeq');
  }

  return { Edge: ItemEdge, Connection: ItemConnection };
}

export function encodeCursor(createdAt: Date | string, id: string): string {
  return Buffer.from(JSON.stringify([new Date(createdAt).toISOString(), id])).toString('base64url');
}

/** The keyset a cursor of `encodeCursor` holds, or null when it is not one. */
export function decodeCursor(cursor: string): Keyset | null {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string];
    const createdAt = new Date(at);
    // The id goes into a query: a forged one with a NUL made SQLite fail (INTERNAL).
    if (typeof id !== 'string' || findUnsafeChar(id) || Number.isNaN(createdAt.getTime())) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}

/**
 * The connection of one page of rows, each row's cursor made from its (createdAt, id) when it
 * is asked for: most pages are read for their nodes, and encoding 50 cursors nobody reads
 * was 2% of a page's CPU.
 */
export function connectionOf<Row extends { createdAt: Date | string; id: string }, T>(page: Page<Row>, node: (row: Row) => T): Connection<T> {
  const cursorOf = (row: Row | undefined) => (row ? encodeCursor(row.createdAt, row.id) : null);
  const edges = page.rows.map((row) => ({
    node: node(row),
    get cursor() {
      return encodeCursor(row.createdAt, row.id);
    },
  }));
  const pageInfo = { hasNextPage: page.hasNextPage, hasPreviousPage: page.hasPreviousPage, startCursor: cursorOf(page.rows[0]), endCursor: cursorOf(page.rows.at(-1)) };
  return { edges, pageInfo, totalCount: page.totalCount, ...(page.changeSeq !== undefined ? { changeSeq: page.changeSeq } : {}) };
}
