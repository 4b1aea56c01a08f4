/**
 * The chaos suite's small disks: each agent's pool directory on its own size-limited tmpfs, so
 * that the full-disk fault can fill one pool's filesystem to the last byte (a real ENOSPC for
 * the agent's writes, and a real `freeCapacityGiB` of 0 in its heartbeat) without touching the
 * machine's disk, where PostgreSQL and NATS live. A tmpfs takes memory only for what is written:
 * the pools hold sparse images, and the filler is at most one disk's size, for a few seconds.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, statfsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Each pool's filesystem. 4 GiB at the default over-subscription ratio of 20 holds 80 GiB of thin volumes. */
export const POOL_DISK_GIB = 4;

export interface PoolDisks {
  /** The pool directories, each its own filesystem. */
  readonly directories: readonly string[];
  /** Takes every free byte of `directory`'s filesystem; the function returned gives them back. */
  fill(directory: string): Promise<{ bytes: number; release(): Promise<void> }>;
  unmount(): Promise<void>;
}

/**
 * Mounts a tmpfs of `sizeGiB` on each directory (made if missing). Throws, saying why, when this
 * machine does not let the process mount one (not root, or no CAP_SYS_ADMIN in a container), after
 * unmounting what it had mounted.
 */
export async function mountPoolDisks(directories: readonly string[], sizeGiB = POOL_DISK_GIB): Promise<PoolDisks> {
  const mounted: string[] = [];
  const unmount = async (): Promise<void> => {
    for (const d of mounted.splice(0).reverse()) await run('umount', [d]).catch(() => run('umount', ['-l', d]));
  };
  try {
    for (const d of directories) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeGiB}g,mode=0700`, 'tmpfs', d]);
      mounted.push(d);
    }
  } catch (err) {
    await unmount();
    throw new Error(`the full-disk fault needs a small filesystem per pool, and mounting a tmpfs failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
  }
  return {
    directories,
    unmount,
    async fill(directory) {
      const filler = join(directory, '.chaos-filler');
      const { bavail, bsize } = statfsSync(directory);
      // fallocate takes most of it at once (a sparse file would take nothing); writes take the
      // rest, down to the last page, as the agent may be writing at the same moment.
      const most = Math.max(0, bavail * bsize - 64 * 2 ** 20);
      if (most > 0) await run('fallocate', ['-l', String(most), filler]);
      const rest = await fillUp(`${filler}-rest`);
      return { bytes: most + rest, release: () => Promise.all([rm(filler, { force: true }), rm(`${filler}-rest`, { force: true })]).then(() => undefined) };
    },
  };
}

/** Appends to `path` until the filesystem has no byte left (1 MiB at a time, then 4 KiB); returns how many it wrote. */
async function fillUp(path: string): Promise<number> {
  const handle = await open(path, 'w');
  let written = 0;
  try {
    for (const size of [2 ** 20, 4096]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += (await handle.write(chunk, 0, size)).bytesWritten;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await handle.close();
  }
  return written;
}
