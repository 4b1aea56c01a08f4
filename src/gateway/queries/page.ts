/** A list's page request from its API arguments: the direction, the page size rule and the cursor, checked together. */
import type { PageRequest } from '../../db/index.js';
import { checkPageSize, Problems } from '../../domain/index.js';
import type { PageArgs } from '../../resolvers/ports/index.js';
import { decodeCursor } from '../../resolvers/types/relay.js';

const HOW_TO_PAGE = 'page forward with first (and after: the endCursor of the page before), or backward with last (and before: the startCursor of the page after)';

/**
 * Forward (`first`/`after`) unless `last` or `before` is given: then backward, the `last`
 * items (default 50) before `before`, or the end of the list. An empty cursor is no cursor.
 * Mixing the two directions is refused rather than given Relay's combined meaning, which
 * few clients expect. `checkFilter` adds the filter's problems, reported with the page's.
 * @throws BadInputError naming every problem: both directions at once, a page size out of range, a cursor this API did not give out, a bad filter.
 */
export function pageRequest(args: PageArgs, checkFilter?: (problems: Problems) => void): PageRequest {
  const { first, after, last, before } = args;
  const problems = new Problems();
  const given = (n: number | null | undefined) => n !== undefined && n !== null;
  const bothSizes = given(first) && given(last);
  const bothCursors = Boolean(after) && Boolean(before);
  if (bothSizes) problems.add(`first and last cannot be used together: ${HOW_TO_PAGE}`);
  if (bothCursors) problems.add(`after and before cannot be used together: ${HOW_TO_PAGE}`);
  if (!bothSizes && !bothCursors) {
    if (given(first) && before) problems.add(`before goes with last, not first: ${HOW_TO_PAGE}`);
    if (given(last) && after) problems.add(`after goes with first, not last: ${HOW_TO_PAGE}`);
  }
  const firstSize = checkPageSize(problems, first);
  const lastSize = checkPageSize(problems, last, 'last');
  const afterKey = after ? decodeCursor(after) : undefined;
  if (afterKey === null) problems.add('after is not a cursor this API gave out; pass pageInfo.endCursor of the previous page');
  const beforeKey = before ? decodeCursor(before) : undefined;
  if (beforeKey === null) problems.add('before is not a cursor this API gave out; pass pageInfo.startCursor of the page after the one you want');
  checkFilter?.(problems);
  problems.throwIfAny();
  if (given(last) || beforeKey) return { last: lastSize, ...(beforeKey ? { before: beforeKey } : {}) };
  return { first: firstSize, ...(afterKey ? { after: afterKey } : {}) };
}
