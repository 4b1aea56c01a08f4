/**
 * Compare-and-set as the mutations use it: the guard from the states an action starts from
 * (and the version the caller expects), and the caller's error when it did not apply.
 */
import { ConflictError, NotFoundError } from '../../domain/index.js';

/** The guard of a compare-and-set from `from`, at `expectedVersion` when one is given. */
export function casGuard<S>(from: readonly S[], expectedVersion: number | null | undefined): { from: readonly S[]; expectedVersion?: number } {
  return expectedVersion === undefined || expectedVersion === null ? { from } : { from, expectedVersion };
}

/**
 * Why a compare-and-set did not apply, as the error the caller should see, from the row
 * as it is now: NOT_FOUND when it is gone, CONFLICT when it is not at `expectedVersion`,
 * INVALID_STATE (from `invalid`) when its status is not one of `from`, CONFLICT otherwise
 * (it changed under the request). With `versionPinsState`, a matching `expectedVersion`
 * means the status was the reason: INVALID_STATE whatever the status.
 */
export function casRefusal<S extends string>(
  resource: 'Volume' | 'Snapshot' | 'Backup',
  id: string,
  now: { status: S; version: number } | null,
  expectedVersion: number | null | undefined,
  from: readonly S[],
  invalid: (status: S) => Error,
  opts: { versionPinsState?: boolean } = {},
): Error {
  if (!now || now.status === 'deleted') return new NotFoundError(resource, id);
  const versionGiven = expectedVersion !== undefined && expectedVersion !== null;
  if (versionGiven && now.version !== expectedVersion) {
    return new ConflictError(
      `${resource} ${id} is at version ${now.version}, not the expected ${expectedVersion}: someone changed it. Read it again and retry with the new version.`,
      { currentVersion: now.version },
    );
  }
  if (versionGiven && opts.versionPinsState) return invalid(now.status);
  if (!from.includes(now.status)) return invalid(now.status);
  return new ConflictError(`${resource} ${id} changed while this request ran; retry.`, { currentVersion: now.version });
}
