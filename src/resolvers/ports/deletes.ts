/** What every delete answers, whatever the resource (`deleteVolume`, `deleteSnapshot`, …). */
import type { Operation } from '../../db/index.js';

/**
 * A delete is idempotent: it succeeds when the resource is already gone (`alreadyDeleted`,
 * with the operation that removed it when one is recorded) and, when it is being deleted,
 * answers with the operation under way rather than starting another.
 */
export interface DeleteAnswer {
  /** The operation deleting it: new, under way, or the one that deleted it earlier; null when none is recorded. */
  operation: Operation | null;
  /** True when it was already deleted before this request: nothing was done. */
  alreadyDeleted: boolean;
}
