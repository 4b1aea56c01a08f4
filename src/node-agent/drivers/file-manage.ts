/**
 * The `file` driver's manage / unmanage (Cinder's `manage_existing`, `unmanage`,
 * `get_manageable_volumes`), see file-driver.ts for the naming.
 *
 * - `manageExisting(volumeId, reference)`: `reference` is a file name inside the pool's
 *   directory. It is checked with qemu-img: the format (probed, as qemu-img does) must be
 *   raw or qcow2, with no backing file, and `qemu-img info` *without* force-share must
 *   open it (it fails while another process, e.g. a qemu or qemu-nbd, holds its write
 *   lock). Then it is renamed to `volume-<id>.<fmt>` (one `rename(2)` in the same
 *   directory, followed by an fsync of the directory: a crash leaves it under one name or
 *   the other, never half-moved) and grown to the next whole GiB with `qemu-img resize`,
 *   as Cinder's drivers round a managed volume's size up. A crash between the rename and
 *   the resize is finished by the redelivered command (the volume is found under its new
 *   name and grown). A qcow2 image's `flint-backup-*` dirty bitmaps (another Flint's backups)
 *   are removed at the same step. A refused reference is left exactly as it was.
 * - `unmanage(volumeId)`: renames `volume-<id>.<fmt>` to `unmanaged-volume-<id>.<fmt>`
 *   (same crash safety), after removing Flint's backup bitmaps. The bytes stay; the name no longer matches the volume pattern,
 *   so `listVolumes`, the heartbeat's counts and the agent's start-up reconciliation
 *   ignore it, and `listManageable` offers it again.
 * - `listManageable()`: every regular, non-hidden file of the directory that is not a
 *   volume image, with its format, virtual size and whether it is safe to manage.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DriverError, GiB, type ManageableImage, type VolumeInfo } from './driver.js';
import { asDriverError, checkId, exists, FORMATS, IMAGE_RE, KEY_RE, pathOf, syncDir, type FilePool } from './file-util.js';
import { removeBackupBitmaps } from './qcow2-bitmaps.js';
import { imageInfo, ImageNotFoundError, resizeImage, runQemuImg, type ImageFormat } from './qemu-img.js';

/** Prefix of an image given back by `unmanage`. */
export const UNMANAGED_PREFIX = 'unmanaged-';
// eslint-disable-next-line no-control-regex
const BAD_NAME = /[/\u0000-\u001f\u007f]/;

/** Why `reference` cannot name a file of the pool (a path, a hidden or a volume's file), or null. */
export function referenceProblem(reference: string): string | null {
  if (reference.length === 0 || reference.length > 255) return 'must be a file name of 1 to 255 characters';
  if (BAD_NAME.test(reference)) return 'must be a plain file name inside the pool directory, without "/" or control characters';
  if (reference.startsWith('.')) return 'must not be a hidden file (Flint keeps its temporary files and snapshot copies there)';
  if (IMAGE_RE.test(reference)) return 'is already a Flint volume';
  if (KEY_RE.test(reference)) return 'is the key of an encrypted Flint volume, not an image';
  return null;
}

/** Why an inspected image cannot be managed, or null when it can. */
async function unsafeReason(path: string, ctx: FilePool): Promise<{ format: string | null; sizeBytes: number; reason: string | null }> {
  let info;
  try {
    info = await imageInfo(path, undefined, ctx.qemu);
  } catch (err) {
    if (err instanceof ImageNotFoundError) return { format: null, sizeBytes: 0, reason: 'the file does not exist' };
    return { format: null, sizeBytes: 0, reason: `qemu-img cannot read it: ${(err as Error).message}` };
  }
  const base = { format: info.format, sizeBytes: info.virtualSize };
  if (!(FORMATS as readonly string[]).includes(info.format)) return { ...base, reason: `its format is ${info.format}; only raw and qcow2 images can be managed (convert it with qemu-img first)` };
  if (info.backingFilename) return { ...base, reason: `it has a backing file (${info.backingFilename}); flatten it with qemu-img convert or rebase first` };
  try {
    // Without -U: fails while another process holds the image's write lock.
    await runQemuImg(['info', '--output=json', '-f', info.format, path], ctx.qemu);
  } catch (err) {
    return { ...base, reason: `another process is using it (${(err as Error).message.slice(0, 200)}); stop that process first` };
  }
  return { ...base, reason: null };
}

/** The volume's image when it exists already in either format. */
async function existingImage(ctx: FilePool, volumeId: string): Promise<{ path: string; format: ImageFormat } | null> {
  for (const format of FORMATS) {
    const path = pathOf(ctx.pool, volumeId, format);
    if (await exists(path)) return { path, format };
  }
  return null;
}

/** Grows the image to the next whole GiB (a no-op when it is one already). */
async function roundUp(ctx: FilePool, path: string, format: ImageFormat): Promise<void> {
  const { virtualSize } = await imageInfo(path, format, ctx.qemu);
  const whole = Math.max(1, Math.ceil(virtualSize / GiB)) * GiB;
  if (whole !== virtualSize) await resizeImage(path, format, whole, ctx.qemu);
}

/**
 * After the rename (and again when a redelivery finds it done): drops `flint-backup-*`
 * bitmaps, which belong to another Flint's backups (or this image's past) and describe no
 * backup of this volume, then grows the image to whole GiB.
 */
async function finishAdoption(ctx: FilePool, path: string, format: ImageFormat): Promise<void> {
  if (format === 'qcow2') await removeBackupBitmaps(path, ctx.qemu);
  await roundUp(ctx, path, format);
}

export async function manageExisting(ctx: FilePool, volumeId: string, reference: string): Promise<VolumeInfo> {
  checkId(volumeId);
  const where = `pool ${ctx.pool.name}`;
  const problem = referenceProblem(reference);
  if (problem) throw new DriverError(`${where}: reference ${JSON.stringify(reference)} ${problem}`, { retryable: false });
  const source = join(ctx.pool.directory, reference);
  const adopted = await existingImage(ctx, volumeId);
  if (adopted) {
    if (await exists(source)) {
      throw new DriverError(`${where}: volume ${volumeId} exists already, so ${reference} cannot be managed as it`, { retryable: false });
    }
    // A redelivery, or a crash after the rename: finish the job.
    await finishAdoption(ctx, adopted.path, adopted.format).catch((err: unknown) => {
      throw asDriverError(err, `${where}: could not finish adopting volume ${volumeId}`);
    });
    return mustGet(ctx, volumeId);
  }
  const st = await fs.lstat(source).catch(() => null);
  if (!st) throw new DriverError(`${where}: ${reference} does not exist in ${ctx.pool.directory}`, { retryable: false });
  if (!st.isFile()) throw new DriverError(`${where}: ${reference} is not a regular file`, { retryable: false });
  const checked = await unsafeReason(source, ctx);
  if (checked.reason) throw new DriverError(`${where}: ${reference} cannot be managed: ${checked.reason}`, { retryable: false });
  const format = checked.format as ImageFormat;
  const final = pathOf(ctx.pool, volumeId, format);
  try {
    await fs.rename(source, final);
    await syncDir(ctx.pool.directory);
    await finishAdoption(ctx, final, format);
  } catch (err) {
    throw asDriverError(err, `${where}: could not adopt ${reference} as volume ${volumeId}`);
  }
  return mustGet(ctx, volumeId);
}

async function mustGet(ctx: FilePool, volumeId: string): Promise<VolumeInfo> {
  const info = await ctx.getVolume(volumeId);
  if (!info) throw new DriverError(`pool ${ctx.pool.name}: volume ${volumeId} vanished right after it was adopted`);
  return info;
}

/** Name an unmanaged volume's image gets. */
export function unmanagedName(volumeId: string, format: ImageFormat): string {
  return `${UNMANAGED_PREFIX}volume-${volumeId}.${format}`;
}

export async function unmanage(ctx: FilePool, volumeId: string): Promise<void> {
  checkId(volumeId);
  const image = await existingImage(ctx, volumeId);
  if (!image) {
    ctx.index.delete(volumeId);
    return;
  }
  try {
    // Flint's bitmaps would outlive the backups they serve, and an enabled bitmap stops
    // `qemu-img snapshot -a` in the image's next owner's hands.
    if (image.format === 'qcow2') await removeBackupBitmaps(image.path, ctx.qemu);
    await fs.rename(image.path, join(ctx.pool.directory, unmanagedName(volumeId, image.format)));
    await syncDir(ctx.pool.directory);
  } catch (err) {
    throw asDriverError(err, `pool ${ctx.pool.name}: could not unmanage volume ${volumeId}`);
  }
  ctx.index.delete(volumeId);
}

export async function listManageable(ctx: FilePool): Promise<ManageableImage[]> {
  const out: ManageableImage[] = [];
  for (const entry of await fs.readdir(ctx.pool.directory, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.') || IMAGE_RE.test(entry.name) || KEY_RE.test(entry.name)) continue;
    const checked = referenceProblem(entry.name) ?? null;
    const inspected = checked ? { format: null, sizeBytes: 0, reason: checked } : await unsafeReason(join(ctx.pool.directory, entry.name), ctx);
    out.push({
      reference: entry.name,
      sizeBytes: inspected.sizeBytes,
      format: inspected.format,
      safeToManage: inspected.reason === null,
      reasonNotSafe: inspected.reason,
    });
  }
  return out.sort((a, b) => a.reference.localeCompare(b.reference));
}
