/**
 * Domain errors. Every failure a user can see is one of these classes, each with a
 * fixed code from the public list (ARCHITECTURE.md, "GraphQL conventions"). The
 * gateway maps them to GraphQL errors in one place (`src/gateway/http/errors.ts`);
 * anything else becomes INTERNAL with a correlation id. The same list is the only one
 * a failed operation's code comes from (the schema's `ErrorCode` enum), and each code
 * says whether a retry can succeed (`isRetryable`).
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'INVALID_STATE',
  'QUOTA_EXCEEDED',
  'NO_VALID_BACKEND',
  'CONFLICT',
  'SERVICE_UNAVAILABLE',
  'QUERY_TOO_COMPLEX',
  'RATE_LIMITED',
  'RESYNC_REQUIRED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * What each code means to a caller, and whether it is retryable: the failure came from the
 * moment (a service down or busy, a rate limit, a concurrent change), not from the request,
 * so sending the same request again later, with a backoff, can succeed. Not retryable: the
 * same request fails the same way until the caller changes something (input, token, quota,
 * the resource's state) or an operator does. These texts are the `ErrorCode` enum's
 * descriptions in the schema (src/resolvers/types/enums.ts).
 */
export const ERROR_CODE_MEANINGS: { readonly [C in ErrorCode]: { readonly retryable: boolean; readonly description: string } } = {
  // No, only a valid token helps. (A database that cannot check the token is SERVICE_UNAVAILABLE.)
  UNAUTHENTICATED: {
    retryable: false,
    description: 'No token, or one that is invalid, revoked or expired. Not retryable: send a valid token.',
  },
  // No: the role or the project does not change by itself.
  FORBIDDEN: {
    retryable: false,
    description: 'The token\'s role or project does not allow this. Not retryable: use a token that may.',
  },
  // No: the id does not come back (ids are never reused).
  NOT_FOUND: {
    retryable: false,
    description: 'The resource does not exist or is not visible to your project. Not retryable.',
  },
  // No: the same input is refused again. For an operation: the agent refused the command (e.g. its image is missing).
  BAD_USER_INPUT: {
    retryable: false,
    description: 'The input is refused (every problem is listed), or an agent refused the command. Not retryable: change the input.',
  },
  // No: the resource must first reach a state the action starts from. When it is in a
  // transitional state (the message says to wait), wait for its operation to end (follow the
  // operation or the resource's subscription), not for a backoff; most states (ERROR, IN_USE)
  // do not end by themselves.
  INVALID_STATE: {
    retryable: false,
    description:
      'The resource is in a state the action does not start from (`extensions.currentStatus`, `allowedStatuses`), or the work was cancelled. ' +
      'Not retryable: change its state first, or wait for its current operation to end when the message says so.',
  },
  // No: a limit frees only when something is deleted or an admin raises it.
  QUOTA_EXCEEDED: {
    retryable: false,
    description: 'Over a quota of the project (`extensions` name the resource, requested, inUse, reserved and limit). Not retryable: free some or ask for more.',
  },
  // No: no pool passed the scheduler's filters, and the scheduler already waited for pools
  // that had gone silent. It needs another size, type or zone, or capacity an operator adds.
  NO_VALID_BACKEND: {
    retryable: false,
    description: 'No storage pool can take the volume (the message names each pool and why). Not retryable: ask for a smaller size or another type or zone, or have an operator add capacity.',
  },
  // Yes when the resource changed under the request (read it again, then retry with its new
  // version); no when another resource holds the key or id (see `isRetryable`).
  CONFLICT: {
    retryable: true,
    description:
      'The resource changed while the request ran, or `expectedVersion` is not its version (`extensions.currentVersion`): read it again and retry. ' +
      'Not retryable when another resource holds the idempotency key, id or name (`extensions` name it): use a new one.',
  },
  // Yes: a service the work needs (database, scheduler, agent) did not answer; it ends by
  // itself or when an operator starts it. An operation failed by its deadline is this code
  // too (domain/deadlines.ts): its message says what to clean up before doing it again.
  SERVICE_UNAVAILABLE: {
    retryable: true,
    description:
      'A service the work needs (the database, the scheduler, an agent) did not answer; for an operation, it missed its deadline. ' +
      'Retryable with a backoff; a failed operation\'s message says what to clean up first (e.g. delete the ERROR volume).',
  },
  // No: the same query is over the same limit, and one cut off by the timeout will be cut off again.
  QUERY_TOO_COMPLEX: {
    retryable: false,
    description: 'The request is over one of the API\'s limits or was cut off by its timeout (`extensions.limit`). Not retryable: ask for less.',
  },
  // Yes: nothing was done; the limit refills.
  RATE_LIMITED: {
    retryable: true,
    description: 'Too many requests, connections or failed authentications. Retryable after `extensions.retryAfterSeconds`.',
  },
  // No: the events asked for are gone (older than the change feed keeps) or were never this
  // project's; the same `sinceSeq` is refused again. A new list gives a seq to start from.
  RESYNC_REQUIRED: {
    retryable: false,
    description:
      'A subscription\'s `sinceSeq` is older than the change feed keeps (FLINT_CHANGE_RETENTION_SECONDS), ahead of the project\'s sequence, or asks for more changes than one replay sends. ' +
      'Not retryable with that seq: list again and subscribe with the list\'s `changeSeq`.',
  },
  // No: the cause is unknown (a bug, or a failure on a storage host), and a blind retry repeats
  // it. Also any stored code this API does not know (see `errorCodeOf`).
  INTERNAL: {
    retryable: false,
    description: 'An unexpected failure in Flint or on a storage host; the message says what is known, or gives a correlation id for the operator. Not retryable.',
  },
};

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value);
}

/**
 * The code to show for a stored one: an operation row's `errorCode` or an agent's outcome may
 * hold a string that is not on the list (an old row, a code of a library), and a read must not
 * fail for it. Anything not on the list, or missing, is INTERNAL.
 */
export function errorCodeOf(stored: unknown): ErrorCode {
  return isErrorCode(stored) ? stored : 'INTERNAL';
}

/** Details of a CONFLICT that say the resource moved under the request (not that a key or id is held elsewhere). */
const MOVED_DETAILS = ['currentVersion', 'currentStatus'] as const;

/**
 * Whether sending the same request again later can succeed (`retryable` on `OperationError`
 * and on a GraphQL error's extensions): the code's rule in {@link ERROR_CODE_MEANINGS}, and
 * for CONFLICT its details. A CONFLICT whose details name the holder of a key or id (an
 * idempotency key used for another volume, a backup already imported) fails again however
 * often it is sent; one that says the resource moved (`currentVersion`, `currentStatus`, or
 * nothing) passes once the caller has read it again.
 */
export function isRetryable(code: ErrorCode, details?: Readonly<Record<string, unknown>>): boolean {
  if (code === 'CONFLICT' && details && Object.keys(details).length > 0) return MOVED_DETAILS.some((k) => k in details);
  return ERROR_CODE_MEANINGS[code].retryable;
}

export class FlintError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
}

export class UnauthenticatedError extends FlintError {
  constructor(message = 'Send a valid API token as "Authorization: Bearer <token>" (create one with `flint token create`).') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends FlintError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
  static readOnly(): ForbiddenError {
    return new ForbiddenError('Your token has the reader role and cannot change anything; ask for a member or admin token.');
  }
  static adminOnly(what: string): ForbiddenError {
    return new ForbiddenError(`${what} needs an admin token.`);
  }
}

export class NotFoundError extends FlintError {
  constructor(kind: string, id: string, message = `${kind} ${id} does not exist or is not visible to your project; check the id with the list query.`) {
    super('NOT_FOUND', message, { details: { kind, id } });
  }
}

/** One or more problems with the caller's input, all reported at once. */
export class BadInputError extends FlintError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('BAD_USER_INPUT', problems.join('; '), { details: { problems: [...problems] } });
    this.problems = problems;
  }
}

/**
 * A change feed subscription cannot start from the seq it was given (src/gateway/queries/change-replay.ts):
 * the client must list again and subscribe with the list's `changeSeq`.
 */
export class ResyncRequiredError extends FlintError {
  constructor(reason: string, details?: Record<string, unknown>) {
    super('RESYNC_REQUIRED', `${reason}; list again and resubscribe with sinceSeq set to the list's changeSeq.`, { details });
  }
}

export class InvalidStateError extends FlintError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_STATE', message, { details });
  }
}

/**
 * "X is CURRENT and cannot be VERB; allowed from: …", the one wording of a refused
 * transition for every resource; `busy` adds the hint to wait for the running operation.
 */
export const WAIT_HINT = 'Wait until its current operation finishes, then retry.';

/**
 * INVALID_STATE for `subject` in `current`, which cannot be `verb`. `busy`: true adds the
 * wait hint (the state ends by itself); a string is a hint of its own (what to do instead).
 */
export function refusedTransition(subject: string, current: string, verb: string, allowedFrom: readonly string[], busy: boolean | string): InvalidStateError {
  const now = current.toUpperCase();
  const allowed = allowedFrom.map((s) => s.toUpperCase());
  const hint = typeof busy === 'string' ? ` ${busy}` : busy ? ` ${WAIT_HINT}` : '';
  return new InvalidStateError(`${subject} is ${now} and cannot be ${verb}; allowed from: ${allowed.join(', ')}.${hint}`, {
    currentStatus: now,
    allowedStatuses: allowed,
  });
}

export class ConflictError extends FlintError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFLICT', message, { details });
  }
}

export class NoValidBackendError extends FlintError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('NO_VALID_BACKEND', message, { details });
  }
}

export class ServiceUnavailableError extends FlintError {
  constructor(message: string, cause?: unknown) {
    super('SERVICE_UNAVAILABLE', message, { cause });
  }
}

/** Which of the gateway's limits an operation went over (src/gateway/limits/). */
export type OperationLimit = 'tokens' | 'depth' | 'aliases' | 'fields' | 'introspection' | 'cost' | 'timeout';

/**
 * An operation over one of the gateway's limits: too deep, too many aliases or fields,
 * too costly (nested lists multiply), or it ran longer than the execution timeout.
 * Nothing was done (a cut-off mutation says otherwise in its message).
 */
export class QueryTooComplexError extends FlintError {
  readonly limit: OperationLimit;
  constructor(message: string, details: { limit: OperationLimit; max?: number; actual?: number }) {
    super('QUERY_TOO_COMPLEX', message, { details: { ...details } });
    this.limit = details.limit;
  }
}

/**
 * Too many requests, connections or subscriptions for a token or an address, or too many
 * failed authentications from one address. Nothing was done; try again after
 * `retryAfterSeconds`.
 */
export class RateLimitedError extends FlintError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super('RATE_LIMITED', message, { details: { retryAfterSeconds } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
