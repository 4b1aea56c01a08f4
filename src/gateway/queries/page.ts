/** A list's page request from its API arguments: the page size rule and the cursor, checked together. */
import type { PageRequest } from '../../db/index.js';
import { checkPageSize, Problems } from '../../domain/index.js';
import { decodeCursor } from '../../resolvers/types/relay.js';

/**
 * `checkFilter` adds the filter's problems, reported with the page's.
 * @throws BadInputError naming every problem: a page size out of range, a cursor this API did not give out, a bad filter.
 */
export function pageRequest(first: number | null | undefined, after: string | null | undefined, checkFilter?: (problems: Problems) => void): PageRequest {
  const problems = new Problems();
  const size = checkPageSize(problems, first);
  const keyset = after ? decodeCursor(after) : undefined;
  if (keyset === null) problems.add('after is not a cursor this API gave out; pass pageInfo.endCursor of the previous page');
  checkFilter?.(problems);
  problems.throwIfAny();
  return { first: size, ...(keyset ? { after: keyset } : {}) };
}
