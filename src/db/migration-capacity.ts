/**
 * Capacity of a migration. The destination's GiB are reserved with the same conditional
 * UPDATE as a create (src/db/capacity-store.ts), but under the migration's operation id,
 * so the volume keeps its reservation on the source until the switch. At the switch, in
 * the switch's transaction, the source's reservation is released and the migration's is
 * handed to the volume; on failure the migration's is released. Each step is idempotent.
 */
import type { EntityManager } from '@mikro-orm/knex';
import * as capacity from './capacity-store.js';
import { Reservation } from './entities.js';
import { findById } from './entity-rows.js';

/** Reserves `sizeGiB` on the destination for the migration `operationId` (false: no room under `limitGiB`). */
export function reserveForMigration(em: EntityManager, operationId: string, poolId: string, sizeGiB: number, limitGiB: number): Promise<boolean> {
  return capacity.reserve(em, operationId, poolId, sizeGiB, limitGiB);
}

/** Frees the migration's reservation on the destination (a failed migration); a second call is a no-op. */
export function releaseMigration(em: EntityManager, operationId: string): Promise<void> {
  return capacity.release(em, operationId);
}

/**
 * The switch: the volume's reservation on the source is freed and the migration's on the
 * destination becomes the volume's. Call it inside the switch's transaction.
 */
export async function switchReservation(tx: EntityManager, volumeId: string, operationId: string): Promise<void> {
  const held = await findById(tx, Reservation, operationId);
  if (!held) return; // already switched (a redelivered outcome)
  await capacity.release(tx, volumeId);
  await tx.execute('update reservation set volume_id = ? where volume_id = ?', [volumeId, operationId], 'run');
}
