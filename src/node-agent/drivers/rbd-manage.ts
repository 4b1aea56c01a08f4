/**
 * The `rbd` driver's manage / unmanage (Cinder's `manage_existing`, `unmanage`,
 * `get_manageable_volumes`); a reference is an image name in the driver's Ceph pool.
 *
 * - `manageExisting`: the image must exist, hold raw bytes (qemu-img's probe: an image holding
 *   a qcow2 or vmdk is refused), not be a clone (it would depend on its parent), have no
 *   snapshots (their names are not Flint's), and have no watchers (`rbd status`: a qemu,
 *   krbd or tgt using it). Then `rbd rename` (atomic) to `volume-<id>` and `rbd resize` up to
 *   whole GiB; a redelivery finds it renamed and finishes the resize.
 * - `unmanage`: `rbd rename volume-<id> unmanaged-volume-<id>`; the bytes stay.
 */
import { DriverError, GiB, type ManageableImage, type VolumeInfo } from './driver.js';
import { asDriverError, checkId } from './file-util.js';
import { imageInfo } from './qemu-img.js';
import { imageOf, isMissing, orMissing, parentOf, qemuFilename, rbd, rbdJson, snaps, spec, TEMP_IMAGE_RE, UNMANAGED_PREFIX, VOLUME_IMAGE_RE } from './rbd-cli.js';
import type { RbdPool } from './rbd-copies.js';

/** Why `reference` cannot name an image of the pool for manage, or null. */
export function referenceProblem(reference: string): string | null {
  if (!/^[A-Za-z0-9_.@+=-]{1,255}$/.test(reference) || reference.includes('@')) return 'must be an image name of the pool (letters, digits, ".", "-", "_", "+", "=")';
  if (reference.startsWith('.') || TEMP_IMAGE_RE.test(reference)) return 'must not be a hidden image (Flint builds its copies under such names)';
  if (VOLUME_IMAGE_RE.test(reference)) return 'is already a Flint volume';
  return null;
}

/** Why an image cannot be managed, with its size and probed format. */
async function unsafeReason(ctx: RbdPool, name: string): Promise<{ format: string | null; sizeBytes: number; reason: string | null }> {
  let size: number;
  try {
    size = (JSON.parse(await rbd(ctx.pool, ['info', '--format', 'json', spec(ctx.pool, name)])) as { size: number }).size;
  } catch (err) {
    if (isMissing(err)) return { format: null, sizeBytes: 0, reason: `the image does not exist in Ceph pool ${ctx.pool.rbdPool}` };
    return { format: null, sizeBytes: 0, reason: `rbd cannot read it: ${(err as Error).message}` };
  }
  let format: string | null;
  try {
    format = (await imageInfo(qemuFilename(ctx.pool, name))).format;
  } catch (err) {
    return { format: null, sizeBytes: size, reason: `qemu-img cannot read it: ${(err as Error).message.slice(0, 200)}` };
  }
  const base = { format, sizeBytes: size };
  if (format !== 'raw') return { ...base, reason: `it holds a ${format} image; rbd pools serve raw bytes only (convert it with qemu-img convert -O raw first)` };
  const parent = await parentOf(ctx.pool, name);
  if (parent) return { ...base, reason: `it is a clone of ${parent}; flatten it (rbd flatten) first` };
  if ((await snaps(ctx.pool, name)).length > 0) return { ...base, reason: 'it has snapshots; remove them (rbd snap purge) first' };
  const status = await rbdJson<{ watchers?: { address: string }[] }>(ctx.pool, ['status', spec(ctx.pool, name)], {});
  if ((status.watchers ?? []).length > 0) {
    return { ...base, reason: `another process is using it (watchers: ${status.watchers!.map((w) => w.address).join(', ')}); stop that process first` };
  }
  return { ...base, reason: null };
}

/** Grows the volume's image to the next whole GiB (a no-op when it is one already). */
async function roundUp(ctx: RbdPool, volumeId: string): Promise<void> {
  const image = imageOf(volumeId);
  const size = (JSON.parse(await rbd(ctx.pool, ['info', '--format', 'json', spec(ctx.pool, image)])) as { size: number }).size;
  const whole = Math.max(1, Math.ceil(size / GiB)) * GiB;
  if (whole !== size) await rbd(ctx.pool, ['resize', '--no-progress', '--size', `${whole}B`, spec(ctx.pool, image)]);
}

export async function manageExisting(ctx: RbdPool, volumeId: string, reference: string): Promise<VolumeInfo> {
  checkId(volumeId);
  const where = `pool ${ctx.pool.name}`;
  const problem = referenceProblem(reference);
  if (problem) throw new DriverError(`${where}: reference ${JSON.stringify(reference)} ${problem}`, { retryable: false });
  const names = await rbdJson<string[]>(ctx.pool, ['ls', ctx.pool.rbdPool], []);
  if (names.includes(imageOf(volumeId))) {
    if (names.includes(reference)) throw new DriverError(`${where}: volume ${volumeId} exists already, so ${reference} cannot be managed as it`, { retryable: false });
    // A redelivery, or a crash after the rename: finish the job.
    await roundUp(ctx, volumeId).catch((err: unknown) => {
      throw asDriverError(err, `${where}: could not finish adopting volume ${volumeId}`);
    });
    return mustGet(ctx, volumeId);
  }
  const checked = await unsafeReason(ctx, reference);
  if (checked.reason) throw new DriverError(`${where}: ${reference} cannot be managed: ${checked.reason}`, { retryable: false });
  ctx.changed();
  try {
    await rbd(ctx.pool, ['rename', spec(ctx.pool, reference), spec(ctx.pool, imageOf(volumeId))]);
    await roundUp(ctx, volumeId);
  } catch (err) {
    throw asDriverError(err, `${where}: could not adopt ${reference} as volume ${volumeId}`);
  }
  return mustGet(ctx, volumeId);
}

async function mustGet(ctx: RbdPool, volumeId: string): Promise<VolumeInfo> {
  const info = await ctx.getVolume(volumeId);
  if (!info) throw new DriverError(`pool ${ctx.pool.name}: volume ${volumeId} vanished right after it was adopted`);
  return info;
}

/** Renames `volume-<id>` to `unmanaged-volume-<id>`; a missing volume is success. */
export async function unmanage(ctx: RbdPool, volumeId: string): Promise<void> {
  checkId(volumeId);
  ctx.changed();
  try {
    await orMissing(() => rbd(ctx.pool, ['rename', spec(ctx.pool, imageOf(volumeId)), spec(ctx.pool, `${UNMANAGED_PREFIX}${imageOf(volumeId)}`)]), '');
  } catch (err) {
    throw asDriverError(err, `pool ${ctx.pool.name}: could not unmanage volume ${volumeId}`);
  }
}

/** Every image of the pool that is neither a volume nor a temporary, with whether it can be managed. */
export async function listManageable(ctx: RbdPool): Promise<ManageableImage[]> {
  const names = await rbdJson<string[]>(ctx.pool, ['ls', ctx.pool.rbdPool], []);
  const out: ManageableImage[] = [];
  for (const reference of names.sort()) {
    if (VOLUME_IMAGE_RE.test(reference) || TEMP_IMAGE_RE.test(reference) || reference.startsWith('.')) continue;
    const c = await unsafeReason(ctx, reference);
    out.push({ reference, sizeBytes: c.sizeBytes, format: c.format, safeToManage: c.reason === null, reasonNotSafe: c.reason });
  }
  return out;
}
