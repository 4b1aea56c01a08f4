/**
 * Domain errors. Every failure a user can see is one of these classes, each with a
 * fixed code from the public list (ARCHITECTURE.md, "GraphQL conventions"). The
 * gateway maps them to GraphQL errors in one place (`src/gateway/http/errors.ts`);
 * anything else becomes INTERNAL with a correlation id.
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
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

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
