/**
 * Checks of a manage request's `reference` that need no agent (Cinder's manage_existing
 * takes a driver-specific reference; Flint's file driver takes a file name inside the
 * pool's directory). Pure. The agent checks the file itself (format, backing file, use).
 */
import { chars, type Problems } from './volume-input.js';

// eslint-disable-next-line no-control-regex
const NOT_A_NAME = /[/\\\u0000-\u001f\u007f]/;
/** The file driver's name of a volume's image: such a file is a volume already. */
export const VOLUME_IMAGE_NAME = /^volume-([A-Za-z0-9_-]{1,128})\.(raw|qcow2)$/;

/** Adds a problem when `reference` is not a plain, visible file name that is not a volume's image. */
export function checkManageReference(p: Problems, reference: string | undefined | null): void {
  if (reference === undefined || reference === null || reference.length === 0) {
    p.add('reference is required: the name of a file in the pool directory (see the manageableVolumes query)');
    return;
  }
  if (chars(reference) > 255) p.add('reference must be at most 255 characters');
  else if (NOT_A_NAME.test(reference) || reference === '.' || reference === '..') {
    p.add('reference must be a plain file name inside the pool directory, without "/", "\\" or control characters');
  } else if (reference.startsWith('.')) p.add('reference must not name a hidden file (Flint keeps its temporary files there)');
  else if (VOLUME_IMAGE_NAME.test(reference)) p.add(`reference ${reference} is the image of a Flint volume already; only files that are not volumes can be managed`);
}
