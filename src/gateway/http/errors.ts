/**
 * The one place domain errors become GraphQL errors (STYLE.md, "One converter at the
 * edge"). Known failures keep their code and message (the API limits' QUERY_TOO_COMPLEX
 * and RATE_LIMITED too, src/gateway/limits/); GraphQL's own request errors become
 * BAD_USER_INPUT; a database out of reach is SERVICE_UNAVAILABLE, saying whether a
 * change may have been made; anything else is INTERNAL with a correlation id, and its
 * details go only to the log. Every error says whether trying again can succeed
 * (`extensions.retryable`, `isRetryable` of the code and details).
 */
import { randomUUID } from 'node:crypto';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { FlintError, isErrorCode, isRetryable, type ErrorCode } from '../../domain/errors.js';
import type { Logger } from '../../config/logger.js';
import { limitErrorOf } from '../limits/index.js';
import { lostConnection } from '../../db/connection-errors.js';

const REQUEST_ERRORS = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/** `extensions` of an error with `code`: its details, the code, and whether a retry can succeed. */
export function errorExtensions(code: ErrorCode, details?: Readonly<Record<string, unknown>>): Record<string, unknown> & { code: ErrorCode; retryable: boolean } {
  return { ...details, code, retryable: isRetryable(code, details) };
}

function original(err: unknown): unknown {
  let e = err;
  while (e instanceof GraphQLError && e.originalError && e.originalError !== e) e = e.originalError;
  return e;
}

export function formatError(formatted: GraphQLFormattedError, error: unknown, log: Logger): GraphQLFormattedError {
  const base = { locations: formatted.locations, path: formatted.path };
  const found = original(error);
  // GraphQL's own limits (the parser's token count, validation's budget) read as request errors; they are API limits.
  const e = (!(found instanceof FlintError) && limitErrorOf(formatted.message)) || found;
  if (e instanceof FlintError) {
    return { ...base, message: e.message, extensions: errorExtensions(e.code, e.details) };
  }
  const code = formatted.extensions?.code;
  if (isErrorCode(code) && code !== 'INTERNAL') {
    return { ...base, message: formatted.message, extensions: errorExtensions(code) };
  }
  if ((typeof code === 'string' && REQUEST_ERRORS.has(code)) || (e instanceof GraphQLError && !e.originalError && !formatted.path)) {
    return { ...base, message: formatted.message, extensions: errorExtensions('BAD_USER_INPUT') };
  }
  // GraphQL's coercion of variables and arguments reports bad input without a code.
  // With a path, "Int cannot represent …" is the server failing to serialise its own
  // value: INTERNAL, and the value must not be shown.
  if (e instanceof GraphQLError && (/^(Variable|Argument) /.test(e.message) || (!formatted.path && /^(Expected|Int cannot|Float cannot|String cannot)/.test(e.message)))) {
    return { ...base, message: formatted.message, extensions: errorExtensions('BAD_USER_INPUT') };
  }
  const lost = lostConnection(e);
  if (lost) {
    log.warn({ err: e, path: formatted.path }, 'the database could not be reached');
    return { ...base, message: lostConnectionMessage(lost.atCommit), extensions: errorExtensions('SERVICE_UNAVAILABLE') };
  }
  const correlationId = randomUUID();
  log.error({ err: e, correlationId, path: formatted.path }, 'internal error');
  return {
    ...base,
    message: `Internal error; nothing was changed unless the operation says otherwise. Report correlation id ${correlationId} to the operator.`,
    extensions: { ...errorExtensions('INTERNAL'), correlationId },
  };
}

/**
 * What a client is told when the database connection failed. At COMMIT nobody can know whether
 * the change was made (the server may have committed as the connection broke); elsewhere a
 * mutation may still have committed before a later read failed. Either way the same
 * idempotencyKey makes sending it again safe.
 */
export function lostConnectionMessage(atCommit: boolean): string {
  return atCommit
    ? 'The connection to the database broke while this change was being committed: it may or may not have been made. Send it again with the same idempotencyKey (it is applied once), or read the resource to see; retry shortly.'
    : 'The database could not be reached for a moment; retry shortly. A mutation may have been applied before the connection failed: send it again with the same idempotencyKey (it is applied once), or read the resource first.';
}
