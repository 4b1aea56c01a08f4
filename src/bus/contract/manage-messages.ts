/**
 * Manage / unmanage (issue 3, admin actions; Cinder's manage_existing and unmanage):
 * the agent commands, the manage outcome, and the request-reply that lists a pool's
 * manageable images. An unmanage reports the volume outcomes of a delete
 * (`delete.succeeded` / `delete.failed` on `volumeOutcome`): for the database the volume
 * is gone either way.
 */
import { z } from 'zod';

const id = z.string().min(1).max(128);

/** Adopt the file `reference` of pool `pool` as volume `volumeId`. */
export const agentManage = z.object({ operationId: id, volumeId: id, pool: z.string(), reference: z.string().min(1).max(255) });
export type AgentManage = z.infer<typeof agentManage>;

/** Forget volume `volumeId`, keeping its bytes. */
export const agentUnmanage = z.object({ operationId: id, volumeId: id, pool: z.string() });
export type AgentUnmanage = z.infer<typeof agentUnmanage>;

export const MANAGE_OUTCOMES = ['manage.succeeded', 'manage.failed'] as const;

/** What the agent found and did, on `flint.evt.agent.<host>.volume.<id>`. */
export const manageOutcome = z.object({
  operationId: id,
  volumeId: id,
  host: z.string(),
  pool: z.string(),
  outcome: z.enum(MANAGE_OUTCOMES),
  /** The adopted image's size, rounded up to whole GiB (on success). */
  sizeGiB: z.number().int().positive().optional(),
  /** Its image format (on success). */
  format: z.enum(['raw', 'qcow2']).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type ManageOutcomeEvent = z.infer<typeof manageOutcome>;

/** Core-NATS request on `subjects.manageable(host)`: which files of `pool` could be managed? */
export const manageableRequest = z.object({ pool: z.string() });
export type ManageableRequest = z.infer<typeof manageableRequest>;

export const manageableReply = z.object({
  /** false when the host has no such pool (then `images` is empty). */
  poolConfigured: z.boolean(),
  images: z.array(
    z.object({
      reference: z.string(),
      sizeBytes: z.number().nonnegative(),
      format: z.string().nullable(),
      safeToManage: z.boolean(),
      reasonNotSafe: z.string().nullable(),
    }),
  ),
  /** A failure to list (e.g. the directory is unreadable). */
  error: z.string().optional(),
});
export type ManageableReply = z.infer<typeof manageableReply>;
