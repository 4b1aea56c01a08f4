/** Validation of backup manifests (pure): what `putManifest` checks on import and `manifest()` on read. */
import { z } from 'zod';
import { CHANGE_TRACKINGS, type BackupManifest } from './types.js';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (sha256)');
const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, "must be letters, digits, '.', '_' or '-'").refine((s) => !s.includes('..'), 'must not contain ".."');
const count = z.number().int().nonnegative();

const ManifestSchema = z.object({
  format: z.literal('flint-backup/1'),
  backupId: id,
  volumeId: z.string().min(1).max(200),
  sizeBytes: count,
  chunkSize: count,
  entries: z.array(z.object({ offset: count, length: z.number().int().positive(), hash: hex64 })),
  sha256: hex64,
  parentId: id.nullable(),
  codec: z.string().min(1).max(32),
  createdAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO date'),
  dataBytes: count,
  storedBytes: count,
  dedupBytes: count,
  durationMs: z.number().nonnegative(),
  readBytes: count.optional(),
  changeTracking: z.enum(CHANGE_TRACKINGS).optional(),
});

/**
 * Checks a manifest's shape and consistency: entries ordered, non-overlapping, within the
 * volume, at most one chunk long, and dataBytes their sum.
 * @returns the manifest (with only known fields), or the problems as one sentence
 */
export function validateManifest(value: unknown): { ok: true; manifest: BackupManifest } | { ok: false; problem: string } {
  const parsed = ManifestSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`);
    return { ok: false, problem: issues.join('; ') };
  }
  const m = parsed.data;
  if (m.chunkSize === 0 || (m.chunkSize & (m.chunkSize - 1)) !== 0) return { ok: false, problem: `chunkSize ${m.chunkSize} is not a power of two` };
  let end = 0;
  let sum = 0;
  for (const [i, e] of m.entries.entries()) {
    if (e.offset < end) return { ok: false, problem: `entries.${i} (offset ${e.offset}) overlaps or precedes the entry before it` };
    if (e.length > m.chunkSize) return { ok: false, problem: `entries.${i} is longer (${e.length}) than the chunk size ${m.chunkSize}` };
    if (e.offset + e.length > m.sizeBytes) return { ok: false, problem: `entries.${i} ends at ${e.offset + e.length}, past the volume size ${m.sizeBytes}` };
    end = e.offset + e.length;
    sum += e.length;
  }
  if (sum !== m.dataBytes) return { ok: false, problem: `dataBytes ${m.dataBytes} is not the sum of the entry lengths (${sum})` };
  return { ok: true, manifest: m as BackupManifest };
}
