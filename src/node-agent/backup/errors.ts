/** The errors of the backup engine beyond `DriverError` (src/node-agent/drivers/). */

/** A cancelled backup, restore or verify. */
export class BackupAbortedError extends Error {
  constructor(message = 'the backup operation was cancelled', options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackupAbortedError';
  }
}
