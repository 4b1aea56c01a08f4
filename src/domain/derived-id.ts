/** Ids that several gateways must agree on without talking: derived from what they all know. */
import { createHash } from 'node:crypto';

/** A UUID-shaped id derived from `seed` (sha256), the same for the same seed. Pure. */
export function derivedId(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
