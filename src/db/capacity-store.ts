/**
 * Capacity reservations. A pool's `allocated_gib` only moves by a conditional UPDATE
 * bounded by the pool's limit, so two schedulers working from the same stale stats
 * still cannot promise more than the pool can hold. One reservation row per volume
 * makes reserve and release idempotent under redelivery.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { PoolAllocation, Reservation } from './entities.js';
import { dialectOf, findById, rowsOf } from './entity-rows.js';
import { statementOf } from './sql-lists.js';
import { runStatement } from './update-rows.js';
import { toColumnValue } from './where-sql.js';

// Each prepared once per connection (a create's placement runs four of them).
const WRITE_FIRST = statementOf(() => 'update pool_allocation set allocated_gib = allocated_gib where 1 = 0');
const ENSURE_POOL = statementOf(() => 'insert into pool_allocation (pool_id, allocated_gib) values (?, 0) on conflict (pool_id) do nothing');
// The limit as a bigint: a pool without one is Number.MAX_SAFE_INTEGER, past PostgreSQL's integer (a prepared parameter takes the column's type).
const ADD_WITHIN_LIMIT = statementOf(() => 'update pool_allocation set allocated_gib = allocated_gib + ? where pool_id = ? and allocated_gib + ? <= CAST(? AS BIGINT)');
const SUBTRACT = statementOf(() => 'update pool_allocation set allocated_gib = allocated_gib - ? where pool_id = ?');
const INSERT_RESERVATION = statementOf(() => 'insert into reservation (volume_id, pool_id, size_gib, created_at) values (?, ?, ?, ?)');
const SET_SIZE = statementOf(() => 'update reservation set size_gib = ? where volume_id = ?');
const SHRINK_SIZE = statementOf(() => 'update reservation set size_gib = ? where volume_id = ? and size_gib = ?');
const DELETE_RESERVATION = statementOf(() => 'delete from reservation where volume_id = ? and pool_id = ?');
const ALL_ALLOCATIONS = statementOf(() => 'select * from pool_allocation');

/**
 * Takes the write lock before the first read. A SQLite transaction that reads first
 * holds a snapshot that SQLite refuses to upgrade while another process writes
 * (SQLITE_BUSY at once, busy_timeout or not); a write first waits its turn instead.
 * On PostgreSQL it is a no-op.
 */
async function writeFirst(tx: EntityManager): Promise<void> {
  await runStatement(tx, WRITE_FIRST, []);
}

/**
 * Reserves `sizeGiB` for the volume on `poolId` if the pool stays within `limitGiB`.
 * A reservation the volume holds elsewhere is released first (a reschedule); one it
 * already holds on this pool is kept (a redelivery). Returns whether it holds now.
 */
export async function reserve(em: EntityManager, volumeId: string, poolId: string, sizeGiB: number, limitGiB: number): Promise<boolean> {
  return (await reserveUnless(em, volumeId, poolId, sizeGiB, limitGiB, () => false)) === 'reserved';
}

/** What a placement's reservation found: it holds on the pool asked, the pool is full, or the key already holds on `heldOn`. */
export type Reserved = 'reserved' | 'full' | { heldOn: string };

/**
 * A placement's reservation, safe when two copies of one command are placed at once (a
 * redelivery taken by a second scheduler): a reservation the key holds on a pool outside
 * `movableFrom` (the pools of earlier attempts) was made by the other copy, so it is kept
 * and its pool returned, and both copies send the volume to the same place. On SQLite the
 * write lock orders the two; on PostgreSQL the second insert waits on the key and fails,
 * and the redelivery finds the first.
 */
export function reservePlacement(em: EntityManager, key: string, poolId: string, sizeGiB: number, limitGiB: number, movableFrom: readonly string[]): Promise<Reserved> {
  return reserveUnless(em, key, poolId, sizeGiB, limitGiB, (held) => !movableFrom.includes(held));
}

async function reserveUnless(em: EntityManager, key: string, poolId: string, sizeGiB: number, limitGiB: number, keep: (heldOn: string) => boolean): Promise<Reserved> {
  return em.transactional(async (tx) => {
    await writeFirst(tx);
    const existing = await findById(tx, Reservation, key);
    if (existing?.poolId === poolId) return 'reserved';
    if (existing && keep(existing.poolId)) return { heldOn: existing.poolId };
    if (existing) await releaseIn(tx, existing);
    await runStatement(tx, ENSURE_POOL, [poolId]);
    if ((await runStatement(tx, ADD_WITHIN_LIMIT, [sizeGiB, poolId, sizeGiB, limitGiB])) !== 1) return 'full';
    await runStatement(tx, INSERT_RESERVATION, [key, poolId, sizeGiB, toColumnValue(dialectOf(tx), 'date', new Date())]);
    return 'reserved';
  });
}

/** The pool id (`host@pool`) the volume's capacity is reserved on, or null. */
export async function reservedPool(em: EntityManager, volumeId: string): Promise<string | null> {
  return (await findById(em, Reservation, volumeId))?.poolId ?? null;
}

/** Grows a volume's reservation in place to `newSizeGiB` (extend); idempotent by target size. */
export async function grow(em: EntityManager, volumeId: string, poolId: string, newSizeGiB: number, limitGiB: number): Promise<boolean> {
  return em.transactional(async (tx) => {
    await writeFirst(tx);
    const r = await findById(tx, Reservation, volumeId);
    if (!r || r.poolId !== poolId) return false;
    if (r.sizeGiB >= newSizeGiB) return true;
    const delta = newSizeGiB - r.sizeGiB;
    if ((await runStatement(tx, ADD_WITHIN_LIMIT, [delta, poolId, delta, limitGiB])) !== 1) return false;
    await runStatement(tx, SET_SIZE, [newSizeGiB, volumeId]);
    return true;
  });
}

/** Shrinks a reservation back (an extend that failed or was refused). */
export async function shrink(em: EntityManager, volumeId: string, sizeGiB: number): Promise<void> {
  await em.transactional(async (tx) => {
    await writeFirst(tx);
    const r = await findById(tx, Reservation, volumeId);
    if (!r || r.sizeGiB <= sizeGiB) return;
    await runStatement(tx, SHRINK_SIZE, [sizeGiB, volumeId, r.sizeGiB]);
    await runStatement(tx, SUBTRACT, [r.sizeGiB - sizeGiB, r.poolId]);
  });
}

/** Frees whatever the volume holds; a second release is a no-op. */
export async function release(em: EntityManager, volumeId: string): Promise<void> {
  await em.transactional(async (tx) => {
    await writeFirst(tx);
    const r = await findById(tx, Reservation, volumeId);
    if (r) await releaseIn(tx, r);
  });
}

async function releaseIn(tx: EntityManager, r: Reservation): Promise<void> {
  if ((await runStatement(tx, DELETE_RESERVATION, [r.volumeId, r.poolId])) === 1) {
    await runStatement(tx, SUBTRACT, [r.sizeGiB, r.poolId]);
  }
}

/** GiB allocated per pool id (`host@pool`). */
export async function allocations(em: EntityManager): Promise<Map<string, number>> {
  const rows = await rowsOf(em, PoolAllocation, ALL_ALLOCATIONS, []);
  return new Map(rows.map((r) => [r.poolId, r.allocatedGiB]));
}

/** Number of volumes holding a reservation per pool id. */
export async function volumeCounts(em: EntityManager): Promise<Map<string, number>> {
  const rows: Array<{ pool_id: string; n: number | string }> = await em.execute('select pool_id, count(*) as n from reservation group by pool_id');
  return new Map(rows.map((r) => [r.pool_id, Number(r.n)]));
}

