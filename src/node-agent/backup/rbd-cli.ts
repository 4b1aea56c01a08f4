/**
 * The `rbd` calls of the backup engine's RBD change tracking (decisions in rbd-tracking.ts):
 * list, create and remove an image's snapshots, and list extents with `rbd diff`. Failures
 * become DriverErrors carrying rbd's own stderr.
 */
import { DriverError, type RbdLocation } from '../drivers/index.js';
import { isMissing, runCeph } from '../drivers/rbd-cli.js';
import { parseRbdDiff, type RbdDiffExtent } from './rbd-tracking.js';

type ImageRef = Omit<RbdLocation, 'snapshot'>;

/** `rbd` as the image's user, the way the rbd driver runs it (drivers/rbd-cli.ts). */
function rbd(ref: ImageRef, args: readonly string[]): Promise<string> {
  return runCeph({ cluster: ref }, 'rbd', args);
}

function spec(ref: ImageRef, snapshot?: string): string {
  return `${ref.pool}/${ref.image}${snapshot === undefined ? '' : `@${snapshot}`}`;
}

/** Names of the image's snapshots. */
export async function listSnapshots(ref: ImageRef): Promise<string[]> {
  const list = JSON.parse(await rbd(ref, ['snap', 'ls', spec(ref), '--format', 'json'])) as { name: string }[];
  return list.map((s) => s.name);
}

export async function createSnapshot(ref: ImageRef, name: string): Promise<void> {
  await rbd(ref, ['snap', 'create', spec(ref, name)]);
}

/** Removes a snapshot; a missing one is success. */
export async function removeSnapshot(ref: ImageRef, name: string): Promise<void> {
  try {
    await rbd(ref, ['snap', 'rm', '--no-progress', spec(ref, name)]);
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
}

/**
 * `rbd diff` of the image (at `snapshot`, or its current bytes): its allocated extents, or,
 * with `fromSnapshot`, the extents written or discarded since that snapshot.
 */
export async function diffExtents(ref: ImageRef, snapshot: string | undefined, fromSnapshot?: string): Promise<RbdDiffExtent[]> {
  const from = fromSnapshot === undefined ? [] : ['--from-snap', fromSnapshot];
  const text = await rbd(ref, ['diff', ...from, spec(ref, snapshot), '--format', 'json']);
  try {
    return parseRbdDiff(text);
  } catch (err) {
    throw new DriverError(`rbd diff of ${spec(ref, snapshot)}: ${(err as Error).message}`, { cause: err });
  }
}
