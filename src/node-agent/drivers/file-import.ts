/**
 * Importing a volume from another pool (migration) for the `file` driver: the bytes are
 * read from a remote image (an NBD export of the source, raw) and written in this pool's
 * own format under a temporary name, fsynced, compared with the source (`qemu-img
 * compare`), and only then renamed into place. A crash or a failure never leaves a half
 * copy under the volume's name; `setup()` removes the temporaries after a crash.
 */
import { DriverError, type CopyProgress, type RemoteImage, type VolumeInfo } from './driver.js';
import { runQemuImg, runQemuImgWithProgress, type Preallocation, type QemuImgOptions } from './qemu-img.js';
import { asDriverError, checkId, checkNewSize, fmtGiB, pathOf, preallocation, renameIntoPlace, syncFile, tempPathOf, type FilePool } from './file-util.js';

/** See `VolumeDriver.importVolume`. */
export async function importVolume(ctx: FilePool, volumeId: string, sizeGiB: number, source: RemoteImage, onProgress?: (p: CopyProgress) => void): Promise<VolumeInfo> {
  checkId(volumeId);
  const bytes = checkNewSize(sizeGiB);
  const what = `pool ${ctx.pool.name}: could not import volume ${volumeId} (${sizeGiB} GiB) from ${source.uri}`;
  const existing = await ctx.getVolume(volumeId);
  if (existing) {
    // A repeat after a crash between the rename and the report: the copy is kept only if it is the source's.
    if (existing.sizeBytes === bytes && (await imagesEqual(source.uri, source.format, existing.location, existing.format, ctx.qemu))) return existing;
    throw new DriverError(
      `${what}: the pool already has an image of volume ${volumeId} (${fmtGiB(existing.sizeBytes)} GiB) that differs from the source; ` +
        'remove it by hand if it is a leftover, then migrate again',
      { retryable: false },
    );
  }
  const format = ctx.pool.imageFormat;
  const final = pathOf(ctx.pool, volumeId, format);
  const temp = tempPathOf(ctx.pool, volumeId, format);
  try {
    // Progress over copy and check: the copy is the first half of totalBytes, the compare the second.
    const totalBytes = 2 * bytes;
    const report = (phase: 0 | 1) => (percent: number) => onProgress?.({ doneBytes: Math.round(phase * bytes + (percent / 100) * bytes), totalBytes });
    await renameIntoPlace(temp, final, ctx.pool.directory, async () => {
      await convertFromRemote(source, temp, format, preallocation(ctx.pool, format), ctx.pool.copyMiBps, ctx.qemu, report(0));
      await syncFile(temp);
      if (!(await imagesEqual(source.uri, source.format, temp, format, ctx.qemu, report(1)))) {
        throw new DriverError('the copy differs from the source (qemu-img compare)');
      }
    });
  } catch (err) {
    throw asDriverError(err, what);
  }
  ctx.index.set(volumeId, { format, virtualSize: bytes });
  const info = await ctx.getVolume(volumeId);
  if (!info) throw new DriverError(`${what}: the volume vanished right after it was imported`);
  return info;
}

/** `qemu-img convert` from a URI qemu opens itself (nbd://…) into a new local image. */
async function convertFromRemote(
  source: RemoteImage,
  dest: string,
  format: 'raw' | 'qcow2',
  prealloc: Preallocation,
  copyMiBps: number | undefined,
  qemu: QemuImgOptions,
  onPercent: (p: number) => void,
): Promise<void> {
  const args = ['convert', '-f', source.format, source.uri, '-O', format];
  if (prealloc !== 'off') args.push('-o', `preallocation=${prealloc}`);
  // The pool's copy bandwidth cap (qemu counts the bytes it writes; zeros it skips cost nothing).
  if (copyMiBps !== undefined) args.push('-r', String(Math.max(1, Math.round(copyMiBps * 1024 * 1024))));
  args.push(dest);
  // No fixed timeout: a large volume copies for as long as it needs, while its progress moves.
  await runQemuImgWithProgress(args, onPercent, qemu);
}

/** `qemu-img compare` (exit 0: same bytes, 1: differ; anything else is an error). */
export async function imagesEqual(a: string, fa: string, b: string, fb: string, qemu: QemuImgOptions = {}, onPercent?: (p: number) => void): Promise<boolean> {
  try {
    if (onPercent) await runQemuImgWithProgress(['compare', '-f', fa, '-F', fb, a, b], onPercent, qemu);
    else await runQemuImg(['compare', '-q', '-f', fa, '-F', fb, a, b], qemu);
    return true;
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (code === 1) return false;
    throw err;
  }
}
