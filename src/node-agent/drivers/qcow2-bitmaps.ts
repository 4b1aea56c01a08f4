/**
 * Persistent dirty bitmaps of qcow2 images, the I/O half of the backup engine's change
 * tracking (the decisions are pure, in backup/change-tracking.ts).
 *
 * A backup of a volume's current bytes adds an enabled persistent bitmap
 * `flint-backup-<backupId>` right before it reads the image: from then on every qemu
 * process that opens the image (qemu-nbd exports, qemu-storage-daemon, qemu-io, a restore)
 * records in it which clusters it wrote, and the next backup reads only those. Facts
 * checked with qemu-img 7.2:
 *
 * - `qemu-img bitmap --add --enable` needs the image's write lock (it fails while another
 *   process writes the image), `--remove` works on any bitmap, even one marked `in-use`.
 * - A process that had the image open for writing and died (SIGKILL, power loss) leaves its
 *   bitmaps flagged `in-use` in `qemu-img info --output=json` (`format-specific.data.bitmaps[].flags`):
 *   they missed writes, and `qemu-nbd -B` refuses them ("Bitmap … is inconsistent").
 * - A bitmap without the `auto` flag is disabled: it records nothing.
 * - `qemu-img snapshot -a` refuses to revert an image with enabled bitmaps ("Device has active
 *   dirty bitmaps"): a revert removes Flint's bitmaps first (file-copies.ts).
 * - `qemu-img resize` keeps the bitmaps (and grows them); a backup after a resize compares
 *   anyway, since its parent's manifest has another size. It refuses an image with an
 *   `in-use` bitmap ("Bitmap … is inconsistent and cannot be used"): see `resizingPastBrokenBitmaps`.
 * - A writer that cannot store its bitmaps when it closes the image (ENOSPC on a full disk:
 *   "Lost persistent bitmaps during inactivation") leaves them `in-use` too.
 * - `qemu-img snapshot -c/-d` leave the bitmaps alone (they do not change the current bytes).
 */
import { DriverError } from './driver.js';
import { runQemuImg, type QemuImgOptions } from './qemu-img.js';
import { imageOptsString, secretObjectArgs, withSecretFiles } from './image-opts.js';

/** qemu-img options, and the key of an encrypted image (changing its bitmaps opens it). */
export type BitmapOptions = QemuImgOptions & { key?: string | undefined };

/** `qemu-img bitmap <op> … <name>` on the image, opened with its key when it has one. */
function bitmapCommand(path: string, op: string[], name: string, opts: BitmapOptions): Promise<string> {
  return withSecretFiles([opts.key], ([file]) =>
    runQemuImg(['bitmap', ...op, ...(file ? [...secretObjectArgs(file), '--image-opts', imageOptsString(path, 'qcow2', true)] : ['-f', 'qcow2', path]), name], opts),
  );
}

/** Names of the bitmaps Flint's backups add; others (an adopted image's own) are never touched. */
export const BACKUP_BITMAP_PREFIX = 'flint-backup-';

/** The bitmap a backup adds: it records every write after the bytes that backup read. */
export function backupBitmapName(backupId: string): string {
  return `${BACKUP_BITMAP_PREFIX}${backupId}`;
}

export function isBackupBitmap(name: string): boolean {
  return name.startsWith(BACKUP_BITMAP_PREFIX);
}

export interface BitmapInfo {
  name: string;
  /** Bytes per bit. */
  granularity: number;
  /** qemu's flags: `auto` (enabled: it records writes), `in-use` (a writer died with it open: it missed writes). */
  flags: string[];
}

/** The persistent bitmaps `qemu-img info --output=json` reports (pure; none for raw images). */
export function parseBitmaps(info: unknown): BitmapInfo[] {
  const data = (info as { 'format-specific'?: { data?: { bitmaps?: unknown } } } | null)?.['format-specific']?.data;
  if (!Array.isArray(data?.bitmaps)) return [];
  return (data.bitmaps as unknown[]).flatMap((b) => {
    const r = b as { name?: unknown; granularity?: unknown; flags?: unknown } | null;
    if (typeof r?.name !== 'string') return [];
    return [
      {
        name: r.name,
        granularity: typeof r.granularity === 'number' ? r.granularity : 0,
        flags: Array.isArray(r.flags) ? r.flags.filter((f): f is string => typeof f === 'string') : [],
      },
    ];
  });
}

/** The qcow2 image's persistent bitmaps (`-U`: readable while another process holds the image). */
export async function listBitmaps(path: string, opts: QemuImgOptions = {}): Promise<BitmapInfo[]> {
  const out = await runQemuImg(['info', '--output=json', '-U', '-f', 'qcow2', path], opts);
  try {
    return parseBitmaps(JSON.parse(out));
  } catch (err) {
    throw new DriverError(`qemu-img info ${path} printed something that is not JSON: ${out.slice(0, 200)}`, { cause: err });
  }
}

/** Adds an enabled persistent bitmap; fails (DriverError with qemu's message) while another process writes the image. */
export async function addBitmap(path: string, name: string, opts: BitmapOptions = {}): Promise<void> {
  await bitmapCommand(path, ['--add', '--enable'], name, opts);
}

/** Removes one bitmap (consistent or not); a missing one is success. */
export async function removeBitmap(path: string, name: string, opts: BitmapOptions = {}): Promise<void> {
  try {
    await bitmapCommand(path, ['--remove'], name, opts);
  } catch (err) {
    if (err instanceof DriverError && /Dirty bitmap '.*' not found/.test(err.message)) return;
    throw err;
  }
}

/**
 * Removes every `flint-backup-*` bitmap of a qcow2 image but `keep`: what must happen when
 * the image's bytes change in a way qemu does not record (a revert), or when the image comes
 * from elsewhere (manage). Returns the names removed.
 */
export async function removeBackupBitmaps(path: string, opts: BitmapOptions = {}, keep?: string): Promise<string[]> {
  const removed: string[] = [];
  for (const b of await listBitmaps(path, opts)) {
    if (!isBackupBitmap(b.name) || b.name === keep) continue;
    await removeBitmap(path, b.name, opts);
    removed.push(b.name);
  }
  return removed;
}

/** qemu's refusal to resize an image one of whose persistent bitmaps is marked `in-use`. */
const INCONSISTENT_BITMAP = /Bitmap '([^']*)' is inconsistent and cannot be used/;

/**
 * Runs `resize` (a `qemu-img resize` of the qcow2 image at `path`). qemu refuses it while a
 * persistent bitmap is `in-use`, which a writer leaves when it dies with the image open or
 * cannot store the bitmap on a full disk: without this, such a volume could never be extended
 * again. A `flint-backup-*` bitmap in that state has missed writes and no backup will use it
 * (the next one compares), so the broken ones are removed and the resize runs again. A broken
 * bitmap that is not Flint's is left alone, and the error says how to remove it.
 */
export async function resizingPastBrokenBitmaps<T>(path: string, opts: BitmapOptions, resize: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await resize();
    } catch (err) {
      const name = err instanceof DriverError ? INCONSISTENT_BITMAP.exec(err.message)?.[1] : undefined;
      if (name === undefined) throw err;
      if (!isBackupBitmap(name) || attempt > 1) {
        throw new DriverError(
          `${(err as Error).message.trim()}. The image's bitmap '${name}' is marked in-use (a process died with the image open) and is not one Flint's backups made, so Flint leaves it; remove it with \`qemu-img bitmap --remove ${path} ${name}\` if nothing needs it, then extend again`,
          { retryable: false, cause: err },
        );
      }
      for (const b of await listBitmaps(path, opts)) {
        if (isBackupBitmap(b.name) && b.flags.includes('in-use')) await removeBitmap(path, b.name, opts);
      }
    }
  }
}
