/**
 * The change feed's reads (issue 16): a project's position in its sequence, the resources
 * changed after a seq (for a subscription's replay), and the retention sweep. The triggers of
 * change-feed-sql.ts do every write but the sweep's.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { helper, type EventArgs, type EventSubscriber } from '@mikro-orm/core';
import { ChangeCounter } from './change-feed-entities.js';
import { Attachment } from './attachment-entity.js';
import { Backup } from './backup-store.js';
import { Snapshot, Volume } from './entities.js';
import type { FeedResourceType } from './change-feed-sql.js';
import { queryPrepared, type PreparedQuery } from './prepared.js';
import { statementOf } from './sql-lists.js';
import { dialectOf, findById, knexOf } from './entity-rows.js';

export { ChangeCounter, ChangeEvent } from './change-feed-entities.js';
export { FEED_TABLES, type FeedResourceType } from './change-feed-sql.js';

/** Where a project's feed stands: its latest seq, and the latest seq the retention sweep deleted. */
export interface FeedPosition {
  seq: number;
  prunedSeq: number;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The statement reading a row's change seq back, per table. */
function seqOf(table: string): PreparedQuery {
  return statementOf(() => `SELECT change_seq FROM ${table} WHERE id = ?`);
}

/** The project's position (0 and 0 for a project that never changed). */
export async function feedPosition(em: EntityManager, projectId: string): Promise<FeedPosition> {
  const row = await findById(em, ChangeCounter, projectId);
  return { seq: num(row?.seq), prunedSeq: num(row?.prunedSeq) };
}

/** One resource changed after a seq: its latest seq in the project's log, and whether it was created (or moved in) since. */
export interface ChangedResource {
  resourceId: string;
  seq: number;
  created: boolean;
}

/**
 * The resources of `type` that changed in the project after `sinceSeq`, each once at its
 * latest change, in the order of those changes; at most `limit` (the caller asks one more to
 * know there are too many).
 */
export async function changedSince(em: EntityManager, projectId: string, type: FeedResourceType, sinceSeq: number, limit: number): Promise<ChangedResource[]> {
  const rows = await em.getConnection().execute<Array<{ resource_id: string; seq: unknown; created: unknown }>>(
    'SELECT resource_id, MAX(seq) AS seq, MAX(CASE WHEN type = ? THEN 1 ELSE 0 END) AS created FROM change_event ' +
      'WHERE project_id = ? AND resource_type = ? AND seq > ? GROUP BY resource_id ORDER BY MAX(seq) LIMIT ?',
    ['CREATED', projectId, type, sinceSeq, limit],
  );
  return rows.map((r) => ({ resourceId: r.resource_id, seq: num(r.seq), created: num(r.created) === 1 }));
}

/** Every project's latest seq (`change_counter`), for the live catch-up (src/gateway/live/catch-up.ts). */
export async function feedCounters(em: EntityManager): Promise<Map<string, number>> {
  const rows = await em.getConnection().execute<Array<{ project_id: string; seq: unknown }>>('SELECT project_id, seq FROM change_counter');
  return new Map(rows.map((r) => [r.project_id, num(r.seq)]));
}

/** One event of a project's log, as the live catch-up reads it. */
export interface LoggedChange {
  seq: number;
  resourceType: FeedResourceType;
  resourceId: string;
  type: 'CREATED' | 'UPDATED' | 'DELETED';
  version: number;
}

/** The project's events after `after` up to `upTo`, in seq order (at most `limit`). */
export async function changesBetween(em: EntityManager, projectId: string, after: number, upTo: number, limit: number): Promise<LoggedChange[]> {
  const rows = await em
    .getConnection()
    .execute<Array<{ seq: unknown; resource_type: string; resource_id: string; type: string; version: unknown }>>(
      'SELECT seq, resource_type, resource_id, type, version FROM change_event WHERE project_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
      [projectId, after, upTo, limit],
    );
  return rows.map((r) => ({ seq: num(r.seq), resourceType: r.resource_type as FeedResourceType, resourceId: r.resource_id, type: r.type as LoggedChange['type'], version: num(r.version) }));
}

/** The seq of the latest change of one resource in one project's log (a resource that left the project: its DELETED there); 0 when none is kept. */
export async function latestSeqOf(em: EntityManager, projectId: string, resourceId: string): Promise<number> {
  const [row] = await em.getConnection().execute<Array<{ seq: unknown }>>('SELECT MAX(seq) AS seq FROM change_event WHERE project_id = ? AND resource_id = ?', [projectId, resourceId]);
  return num(row?.seq);
}

/**
 * Deletes the events older than `before`, project by project: first the project's
 * `pruned_seq` is raised to the latest seq it deletes, then its events up to that seq go.
 * In that order a replay that reads the log while a sweep runs either finds its events or
 * sees the raised `pruned_seq` when it checks again after its read (src/gateway/queries/change-replay.ts).
 * One project's counter row at a time, each in its own statement: the sweep never holds two
 * counters, so it cannot deadlock with a transfer's trigger. Returns how many were deleted.
 */
export async function pruneChangeEvents(em: EntityManager, before: Date): Promise<number> {
  const conn = em.getConnection();
  const old = await conn.execute<Array<{ project_id: string; seq: unknown }>>('SELECT project_id, MAX(seq) AS seq FROM change_event WHERE at < ? GROUP BY project_id', [before.getTime()]);
  let deleted = 0;
  for (const { project_id: projectId, seq } of old) {
    const upTo = num(seq);
    await conn.execute('UPDATE change_counter SET pruned_seq = ? WHERE project_id = ? AND pruned_seq < ?', [upTo, projectId, upTo], 'run');
    const res = await conn.execute<{ affectedRows?: number }>('DELETE FROM change_event WHERE project_id = ? AND seq <= ?', [projectId, upTo], 'run');
    deleted += res.affectedRows ?? 0;
  }
  return deleted;
}

/** The entities in the feed, and their tables. */
const TABLE_OF = new Map<typeof Volume | typeof Snapshot | typeof Backup | typeof Attachment, FeedResourceType>([
  [Volume, 'volume'],
  [Snapshot, 'snapshot'],
  [Backup, 'backup'],
  [Attachment, 'attachment'],
]);

/**
 * Reads back the seq the trigger gave a row the ORM just inserted or updated (SQLite's trigger
 * writes it after the statement, where RETURNING does not see it), in the writing
 * transaction, so that a mutation's answer carries its resource's `changeSeq`. The value is
 * also put in the entity's snapshot: the ORM never writes `change_seq` back.
 */
export class ChangeSeqReader implements EventSubscriber<Volume | Snapshot | Backup | Attachment> {
  getSubscribedEntities() {
    return [...TABLE_OF.keys()];
  }

  afterCreate(args: EventArgs<Volume | Snapshot | Backup | Attachment>): Promise<void> {
    return this.readBack(args);
  }

  /** An ORM update (not a compare-and-set's native one) took a new seq too. */
  afterUpdate(args: EventArgs<Volume | Snapshot | Backup | Attachment>): Promise<void> {
    return this.readBack(args);
  }

  private async readBack(args: EventArgs<Volume | Snapshot | Backup | Attachment>): Promise<void> {
    const table = TABLE_OF.get(args.entity.constructor as typeof Volume);
    if (!table) return;
    const [row] = await queryPrepared(knexOf(args.em as EntityManager), dialectOf(args.em as EntityManager), seqOf(table), [args.entity.id]);
    if (!row) return;
    const seq = num(row.change_seq);
    args.entity.changeSeq = seq;
    const original = helper(args.entity).__originalEntityData as Record<string, unknown> | undefined;
    if (original) original.changeSeq = seq;
  }
}
