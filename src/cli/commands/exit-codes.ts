/**
 * Exit codes of the API commands and how a failure becomes one, with the line printed
 * on stderr: `flint: <message> (<code>)`. Pure, so unit tests drive it with plain errors.
 */
import { FlintApiError, FlintWaitError } from '../../client/index.js';

/** What `flint volume …`, `flint snapshot …` and the other API commands exit with. */
export const EXIT = {
  OK: 0,
  /** The API refused the request, or the operation failed (e.g. the volume ended in ERROR). */
  ERROR: 1,
  /** Bad usage or bad input: a commander usage error or `BAD_USER_INPUT`. */
  USAGE: 2,
  /** `UNAUTHENTICATED` or `FORBIDDEN`. */
  AUTH: 3,
  /** `NOT_FOUND`. */
  NOT_FOUND: 4,
  /** The gateway could not be reached (`NETWORK`). */
  UNREACHABLE: 5,
} as const;

/** The part of `flint --help` that lists the exit codes. */
export const EXIT_CODES_HELP = `
Exit codes of the API commands (volume, snapshot, pool, service, volume-type, operation):
  0  success
  1  the API refused the request or the operation failed (e.g. the volume ended in ERROR)
  2  bad usage or bad input (BAD_USER_INPUT)
  3  not authenticated or not allowed (UNAUTHENTICATED, FORBIDDEN)
  4  not found (NOT_FOUND)
  5  could not reach the gateway (NETWORK)
flint plan --detailed-exitcode exits 2 when the plan has changes, 0 when it has none.

Connection: --url or FLINT_URL, --token or FLINT_TOKEN; without a token, the one in
$FLINT_DATA_DIR/admin-token (./.flint/admin-token by default) is used when readable.`;

/** The exit code for an error code of the API (`extensions.code`) or of the CLI. */
export function exitCodeFor(code: string): number {
  switch (code) {
    case 'BAD_USER_INPUT':
    case 'USAGE':
      return EXIT.USAGE;
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return EXIT.AUTH;
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'NETWORK':
      return EXIT.UNREACHABLE;
    default:
      return EXIT.ERROR;
  }
}

/**
 * A failure the CLI itself reports, with an API-style code (e.g. `NOT_FOUND` for a
 * volume query answering null). `exitCode` overrides {@link exitCodeFor}: a failed
 * operation exits 1 whatever its error code.
 */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode = exitCodeFor(code)) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** What to print and exit with for a failure. */
export interface Failure {
  message: string;
  /** Absent for unexpected errors (bugs), which print without a code. */
  code: string | undefined;
  exitCode: number;
}

/** Classifies anything thrown by a command. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof CliError) return { message: err.message, code: err.code, exitCode: err.exitCode };
  if (err instanceof FlintApiError) return { message: err.message, code: err.code, exitCode: exitCodeFor(err.code) };
  if (err instanceof FlintWaitError) return { message: err.message, code: err.code, exitCode: EXIT.ERROR };
  return { message: err instanceof Error ? err.message : String(err), code: undefined, exitCode: EXIT.ERROR };
}

/** The stderr line: `flint: <message> (<code>)`. */
export function formatFailure(f: Pick<Failure, 'message' | 'code'>): string {
  return f.code ? `flint: ${f.message} (${f.code})` : `flint: ${f.message}`;
}
