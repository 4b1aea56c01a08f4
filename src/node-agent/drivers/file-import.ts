/**
 * Importing a volume from another pool (migration) for the `file` driver: the bytes are
 * read from a remote image (an NBD export of the source, raw) and written in this pool's
 * own format under a temporary name, fsynced, compared with the source (`qemu-img
 * compare`), and only then renamed into place. A crash or a failure never leaves a half
 * copy under the volume's name; `setup()` removes the temporaries after a crash.
 *
 * An encrypted volume arrives as plaintext (the source's export decrypts it) and is written
 * through the cipher with the volume's own key (the command carries it sealed), its key file
 * first; the check compares the plaintext.
 */
import { DriverError, type CopyProgress, type RemoteImage, type VolumeEncryption, type VolumeInfo } from './driver.js';
import { newImageKey, readKey, removeKey, storeKey } from './file-keys.js';
import { encryptedCreateOptions, jsonImageName, NEW_KEY_SECRET_ID, qemuFormat, secretObjectArgs, withSecretFiles } from './image-opts.js';
import { retryLuksCreate, runQemuImg, runQemuImgWithProgress, type NewImageKey, type Preallocation, type QemuImgOptions } from './qemu-img.js';
import { asDriverError, checkId, checkNewSize, fmtGiB, pathOf, preallocation, renameIntoPlace, syncFile, tempPathOf, type FilePool } from './file-util.js';

/** See `VolumeDriver.importVolume`. */
export async function importVolume(
  ctx: FilePool,
  volumeId: string,
  sizeGiB: number,
  source: RemoteImage,
  onProgress?: (p: CopyProgress) => void,
  encryption?: VolumeEncryption,
): Promise<VolumeInfo> {
  checkId(volumeId);
  const bytes = checkNewSize(sizeGiB);
  const what = `pool ${ctx.pool.name}: could not import volume ${volumeId} (${sizeGiB} GiB) from ${source.uri}`;
  const existing = await ctx.getVolume(volumeId);
  if (existing) {
    // A repeat after a crash between the rename and the report: the copy is kept only if it is the source's.
    const key = existing.encrypted ? await readKey(ctx.pool, ctx.secrets, volumeId) : undefined;
    if (existing.sizeBytes === bytes && (await imagesEqual(source.uri, source.format, existing.location, existing.format, ctx.qemu, undefined, key))) return existing;
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
    const key = encryption ? newImageKey(ctx.secrets, volumeId, encryption) : undefined;
    if (encryption) await storeKey(ctx.pool, volumeId, encryption.sealedKey);
    else await removeKey(ctx.pool, volumeId);
    await renameIntoPlace(temp, final, ctx.pool.directory, async () => {
      await convertFromRemote(source, temp, format, preallocation(ctx.pool, format), ctx.pool.copyMiBps, ctx.qemu, report(0), key);
      await syncFile(temp);
      if (!(await imagesEqual(source.uri, source.format, temp, format, ctx.qemu, report(1), key?.key))) {
        throw new DriverError('the copy differs from the source (qemu-img compare)');
      }
    }).catch(async (err: unknown) => {
      await removeKey(ctx.pool, volumeId);
      throw err;
    });
  } catch (err) {
    throw asDriverError(err, what);
  }
  ctx.index.set(volumeId, { format, virtualSize: bytes });
  const info = await ctx.getVolume(volumeId);
  if (!info) throw new DriverError(`${what}: the volume vanished right after it was imported`);
  return info;
}

/** `qemu-img convert` from a URI qemu opens itself (nbd://…) into a new image (a path, or an `rbd:` file name). */
export async function convertFromRemote(
  source: RemoteImage,
  dest: string,
  format: 'raw' | 'qcow2',
  prealloc: Preallocation,
  copyMiBps: number | undefined,
  qemu: QemuImgOptions,
  onPercent: (p: number) => void,
  key?: NewImageKey,
): Promise<void> {
  await withSecretFiles([key?.key], async ([file]) => {
    const args = ['convert', ...(file ? secretObjectArgs(file, NEW_KEY_SECRET_ID) : []), '-f', source.format, source.uri, '-O', qemuFormat(format, key !== undefined)];
    const o = [...(prealloc !== 'off' ? [`preallocation=${prealloc}`] : []), ...(key ? [encryptedCreateOptions(format, key.luks, NEW_KEY_SECRET_ID)] : [])];
    if (o.length) args.push('-o', o.join(','));
    // The pool's copy bandwidth cap (qemu counts the bytes it writes; zeros it skips cost nothing).
    if (copyMiBps !== undefined) args.push('-r', String(Math.max(1, Math.round(copyMiBps * 1024 * 1024))));
    args.push(dest);
    // No fixed timeout: a large volume copies for as long as it needs, while its progress moves.
    await (key ? retryLuksCreate(() => runQemuImgWithProgress(args, onPercent, qemu)) : runQemuImgWithProgress(args, onPercent, qemu));
  });
}

/** `qemu-img compare` (exit 0: same bytes, 1: differ; anything else is an error); `keyB` opens an encrypted `b` (a local image). */
export async function imagesEqual(a: string, fa: string, b: string, fb: string, qemu: QemuImgOptions = {}, onPercent?: (p: number) => void, keyB?: string): Promise<boolean> {
  try {
    await withSecretFiles([keyB], async ([file]) => {
      const second = file ? [...secretObjectArgs(file), '-f', fa, a, jsonImageName(b, fb as 'raw' | 'qcow2')] : ['-f', fa, '-F', fb, a, b];
      if (onPercent) await runQemuImgWithProgress(['compare', ...second], onPercent, qemu);
      else await runQemuImg(['compare', '-q', ...second], qemu);
    });
    return true;
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (code === 1) return false;
    throw err;
  }
}
