/**
 * Images an agent made for a volume that does not live where it made them: a create that ran
 * twice (a command redelivered after NATS lost its ack, a duplicate placement), or one that
 * ran after the volume was deleted. The agent says so with its `create.succeeded`, which the
 * recorder cannot apply: the volume is placed on another host or pool, DELETED or not (the
 * sender check refuses the event when the host is another, senders.ts). Left alone, such an
 * image is an orphan that takes space on a pool no reservation accounts for.
 *
 * The copy is removed the way a migration removes its stray copies: a cleanup operation
 * (`migration_cleanup`, its command sent through the outbox) asks that host to delete the
 * volume's image on that pool. Only the sender's own pool is ever touched, and only when
 * the database says the volume has no business there; the cleanup's id derives from the
 * create and the place, so the same report twice asks once while the first is under way.
 */
import { randomUUID } from 'node:crypto';
import { MIGRATION_COMMAND, MIGRATION_KIND, poolId, subjects, token, volumeOutcome, type MigrationCleanup } from '../../bus/index.js';
import { findOperation, findVolume, Operation, type Volume } from '../../db/index.js';
import { derivedId } from '../../domain/derived-id.js';
import { MIGRATION_RUNNING } from '../../domain/migration.js';
import { operationEnded } from '../../domain/operations.js';
import { newOperation } from '../mutations/kernel.js';
import { dispatchOrDefer } from '../sweepers/outbox.js';
import type { MigrationRecorderDeps } from './migration-steps.js';

/** Where an agent made an image of a volume. */
export interface MadeImage {
  volumeId: string;
  operationId: string;
  host: string;
  pool: string;
}

/**
 * Whether an image of `volume` made on `host`/`pool` is a stray: the volume is placed on
 * another host or pool (DELETED or not). Its own place is never one: an unmanaged volume is
 * DELETED with its image kept there, and a create cannot run twice on one place (the agent
 * replays its recorded answer). A volume not placed yet, or migrating (its destination holds
 * a copy on purpose), is left to its own operations. Pure.
 */
export function isStrayImage(volume: Pick<Volume, 'host' | 'pool' | 'migrationStatus'>, host: string, pool: string): boolean {
  if (!volume.host || !volume.pool) return false;
  if (volume.migrationStatus && (MIGRATION_RUNNING as readonly string[]).includes(volume.migrationStatus)) return false;
  return !(token(volume.host) === token(host) && volume.pool === pool);
}

/** The cleanup's operation id: a UUID from the create's operation and the place, so a repeated report finds it made. Pure. */
export function strayCleanupId(image: MadeImage): string {
  return derivedId(`stray:${image.operationId}:${image.volumeId}:${token(image.host)}:${image.pool}`);
}

/**
 * The image a `create.succeeded` event says agent `senderHost` made, when the event is one
 * (payload read leniently: anything else is not a create report and yields undefined).
 */
export function madeImageOf(kind: string, payload: unknown, senderHost: string): MadeImage | undefined {
  if (kind !== 'volume.outcome') return undefined;
  const parsed = volumeOutcome.safeParse(payload);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  if (e.outcome !== 'create.succeeded' || !e.host || !e.pool || token(e.host) !== senderHost) return undefined;
  return { volumeId: e.volumeId, operationId: e.operationId, host: e.host, pool: e.pool };
}

/**
 * Asks the agent that made `image` to delete it, when it is a stray of a create of that very
 * volume. Returns whether a cleanup was sent (false: not a stray, or already asked for).
 */
export async function removeStrayImage(d: MigrationRecorderDeps, image: MadeImage): Promise<boolean> {
  const em = d.db.fork();
  const op = await findOperation(em, image.operationId);
  // Only a create of this volume makes its image: a report naming anything else is not believed.
  if (!op || op.resourceType !== 'volume' || op.resourceId !== image.volumeId) return false;
  const volume = await findVolume(em, image.volumeId);
  if (!volume || !isStrayImage(volume, image.host, image.pool)) return false;
  // One cleanup under way per place is enough; once it has ended, a later copy (another attempt) gets its own.
  const asked = await em.findOne(Operation, { id: strayCleanupId(image) }, { disableIdentityMap: true });
  if (asked && !operationEnded(asked.status)) return false;
  const id = asked ? randomUUID() : strayCleanupId(image);
  const payload: MigrationCleanup = { operationId: id, migrationOperationId: image.operationId, volumeId: image.volumeId, pool: image.pool, deleteImage: true };
  let cleanup: Operation | undefined;
  try {
    cleanup = await em.transactional(async (tx) =>
      newOperation(tx, 'migration_cleanup', 'volume', {
        projectId: volume.projectId,
        resourceId: volume.id,
        command: { subject: subjects.agent(image.host, MIGRATION_COMMAND.cleanup), kind: MIGRATION_KIND.agentCleanup, payload, msgId: `${id}:${MIGRATION_KIND.agentCleanup}` },
      }, id),
    );
  } catch (err) {
    // Another gateway recorded the same report at the same moment: its cleanup is the one.
    if (await em.fork().findOne(Operation, { id }, { disableIdentityMap: true })) return false;
    throw err;
  }
  d.log.warn(
    { volumeId: volume.id, status: volume.status, at: poolId(image.host, image.pool), livesAt: volume.host && volume.pool ? poolId(volume.host, volume.pool) : null, createOperationId: image.operationId },
    'an agent made an image of a volume that does not live there (a create that ran twice, or after the delete); asking it to delete that copy',
  );
  d.live.publishOperation(cleanup);
  void dispatchOrDefer(d.bus, d.db, cleanup, d.log);
  return true;
}
