/** What the plans of each kind share: who owns a resource, and what happens to the volumes. Pure. */
import { ownerOf } from './labels.js';

/** Statuses of a resource that is gone or going: the stack no longer has it. */
export const GONE = new Set(['DELETING', 'DELETED', 'DETACHING', 'DETACHED']);

/** What the plan does to each volume of the file, which its snapshots, attachments and backups follow. */
export interface VolumeFates {
  /** The id each volume keeps (absent: it is created, or replaced by a new one). */
  keptIds: ReadonlyMap<string, string>;
  /** Volumes of the stack that go away, by id, with their resource (replaced, or deleted by --prune). */
  leaving: ReadonlyMap<string, { resource: string; replaced: boolean }>;
}

/** The live resources of `stack` among `all`, by their resource name (from their labels). */
export function byLabel<T extends { metadata: Record<string, string>; status: string }>(stack: string, all: readonly T[]): Map<string, T[]> {
  const found = new Map<string, T[]>();
  for (const r of all) {
    const owner = ownerOf(r.metadata);
    if (!owner || owner.stack !== stack || owner.name === null || GONE.has(r.status)) continue;
    found.set(owner.name, [...(found.get(owner.name) ?? []), r]);
  }
  return found;
}

/** The error of a resource name more than one resource carries. */
export function claimedTwice(kind: string, resource: string, ids: readonly string[]): string {
  return `${kind}.${resource}: ${ids.length} ${kind}s carry its labels (${ids.join(', ')}); delete or relabel all but one`;
}
