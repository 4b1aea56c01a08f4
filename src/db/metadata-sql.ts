/**
 * The `metadata` condition of the volume and snapshot lists, in SQL so that paging and
 * `totalCount` count only matching rows. A row matches when its metadata has every given key
 * with exactly the given string value; an empty condition matches every row.
 *
 * Metadata is a `json` column (text) on SQLite and `jsonb` on PostgreSQL. SQLite reads it
 * with `json_each`, which compares the key as a value: keys with dots (`flint.stack`), quotes
 * or `$` need no JSON path, which SQLite could not quote for every key (its paths have no
 * escape for `"`). PostgreSQL asks jsonb containment (`@>`) of the whole condition. Keys and
 * values are bound parameters in both.
 */
import { raw, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';

/** Whether `em` talks to PostgreSQL (else SQLite, the only other driver Flint opens). */
function isPostgres(em: EntityManager): boolean {
  return em.getPlatform() instanceof PostgreSqlPlatform;
}

/**
 * The conditions (to AND with the rest of a list's filter) that keep the rows whose
 * `metadata` column holds every pair of `wanted`; none for an empty or absent condition.
 * Raw fragments are single-use in MikroORM: call it once per query.
 */
export function metadataConditions<T>(em: EntityManager, wanted: Record<string, string> | undefined): FilterQuery<T>[] {
  const pairs = Object.entries(wanted ?? {});
  if (pairs.length === 0) return [];
  if (isPostgres(em)) return [{ [raw((alias: string) => `${alias}.metadata @> ?::jsonb`, [JSON.stringify(Object.fromEntries(pairs))])]: [] } as FilterQuery<T>];
  return pairs.map(
    ([key, value]) =>
      ({
        [raw((alias: string) => `exists (select 1 from json_each(${alias}.metadata) m where m.key = ? and m.type = 'text' and m.value = ?)`, [key, value])]: [],
      }) as FilterQuery<T>,
  );
}
