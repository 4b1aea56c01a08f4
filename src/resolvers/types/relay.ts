/**
 * Relay pagination, once: `PageInfo`, an `<Name>Edge` / `<Name>Connection` pair per listed
 * type (made by `relayConnection`), the cursor, and the connection of a page of rows. Every
 * list query pages the same way (an opaque cursor per item, `first` and `after`), so the
 * types and their descriptions are written here once instead of per resource.
 *
 * A cursor is the (createdAt, id) of a row, the keyset the stores page by (src/db/page.ts),
 * as base64url JSON.
 */
import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import type { Keyset, Page } from '../../db/index.js';
import { findUnsafeChar } from '../../domain/index.js';

@ObjectType({ description: 'Where a page ends and whether another follows (Relay\'s PageInfo).' })
export class PageInfo {
  @Field({ description: 'Whether more items follow `endCursor`.' })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the last item; pass it as `after` for the next page.' })
  endCursor!: string | null;
}

export interface RelayNames {
  /** GraphQL type name prefix: `Volume` gives `VolumeEdge` and `VolumeConnection`. */
  name: string;
  /** The item in words, singular and plural: `volume`, `volumes`. */
  one: string;
  many: string;
  /** The list's order in words: `oldest first`. */
  order: string;
}

export interface Edge<T> {
  node: T;
  cursor: string;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: number;
}

/** The Edge and Connection object types of `Item` (call once per type, at module level). */
export function relayConnection<T extends object>(Item: ClassType<T>, names: RelayNames) {
  const { name, one, many, order } = names;
  const capitalised = many.charAt(0).toUpperCase() + many.slice(1);

  @ObjectType(`${name}Edge`, { description: `One ${one} of a page, with its position (Relay edge).` })
  class ItemEdge implements Edge<T> {
    @Field(() => Item, { description: `The ${one}.` })
    node!: T;

    @Field(() => String, { description: `Opaque position of this ${one} in the list; pass it as \`after\` to continue after it.` })
    cursor!: string;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${many}, ${order} (Relay connection).` })
  class ItemConnection implements Connection<T> {
    @Field(() => [ItemEdge], { description: `The ${many} of this page with their cursors; empty past the end.` })
    edges!: ItemEdge[];

    @Field(() => PageInfo, { description: 'Whether more pages follow, and the cursor to fetch the next one.' })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: `${capitalised} matching the filter, over all pages.` })
    totalCount!: number;
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

/** The connection of one page of rows, each row's cursor made from its (createdAt, id). */
export function connectionOf<Row extends { createdAt: Date | string; id: string }, T>(page: Page<Row>, node: (row: Row) => T): Connection<T> {
  const edges = page.rows.map((row) => ({ node: node(row), cursor: encodeCursor(row.createdAt, row.id) }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: page.totalCount };
}
