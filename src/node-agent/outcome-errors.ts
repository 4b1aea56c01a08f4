/**
 * The error part of a failed command's outcome, shared by the agent's volume, snapshot
 * and backup commands: the error's text, and the code that says whether the request
 * was refused.
 */
import type { ErrorCode } from '../domain/errors.js';

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A failed outcome's error: BAD_USER_INPUT when the driver refused the request, else INTERNAL. */
export function failure(refused: boolean, message: string): { code: ErrorCode; message: string } {
  return { code: refused ? 'BAD_USER_INPUT' : 'INTERNAL', message };
}
