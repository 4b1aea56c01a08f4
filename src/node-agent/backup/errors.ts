/** The errors of the backup engine beyond `DriverError` (src/node-agent/drivers/), and the checks that turn a cancellation into one. */

/** A cancelled backup, restore or verify. */
export class BackupAbortedError extends Error {
  constructor(message = 'the backup operation was cancelled', options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackupAbortedError';
  }
}

/** Throws a BackupAbortedError when `signal` is aborted. */
export function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new BackupAbortedError(`${what} was cancelled`, { cause: signal.reason });
}

/** A failure that happened because the operation was cancelled is reported as the cancellation. */
export function asAbort(err: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted && !(err instanceof BackupAbortedError)) return new BackupAbortedError(`${what} was cancelled`, { cause: err });
  return err;
}
