/** Temporary directories for tests, always under os.tmpdir() so a crashed run never litters the repo. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary directory and the function that removes it. */
export interface TempDir {
  /** Absolute path of the new, empty directory. */
  path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  cleanup(): Promise<void>;
}

/**
 * Creates a fresh directory `os.tmpdir()/<prefix>XXXXXX`.
 * @param prefix start of the directory name; default `flint-test-`.
 */
export async function tempDir(prefix = 'flint-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    // maxRetries: a process that just exited (nats-server, qemu-nbd) may still hold files for a moment.
    cleanup: () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
  };
}
