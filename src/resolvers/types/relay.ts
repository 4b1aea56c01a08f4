/**
 * Relay pagination types, once: `PageInfo`, and an `<Name>Edge` / `<Name>Connection` pair
 * per listed type, made by `relayConnection`. Every list query pages the same way (an
 * opaque cursor per item, `first` and `after`), so the types and their descriptions are
 * written here once instead of per resource.
 */
import { Field, Int, ObjectType, type ClassType } from 'type-graphql';

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

/** A connection from one page of edges: the end cursor is the last edge's. */
export function connectionOf<T>(edges: Edge<T>[], hasNextPage: boolean, totalCount: number): Connection<T> {
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
}
