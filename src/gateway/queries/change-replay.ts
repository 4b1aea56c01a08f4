/**
 * The replay of a change feed subscription (`volumeEvents(sinceSeq:)`, `snapshotEvents`,
 * `backupEvents`, `attachmentEvents`):
 * the current state of each resource of one kind that changed in the project after `sinceSeq`,
 * once per resource, in the order of their latest changes. A client that listed (and got the
 * list's `changeSeq`) then subscribes with it misses nothing in between: the live listener
 * is in place before the log is read (src/gateway/live/hub.ts holds live events meanwhile).
 *
 * Refused (RESYNC_REQUIRED): a seq older than the log keeps (the retention sweep deleted
 * events after it), ahead of the project's sequence (not this project's, or from another
 * database), or with more changed resources than one replay sends.
 */
import type { EntityManager } from '@mikro-orm/knex';
import { changedSince, feedPosition, type ChangedResource, type Db, type FeedResourceType } from '../../db/index.js';
import { BadInputError, ResyncRequiredError } from '../../domain/index.js';

/** Resources one replay sends at most; more changed since `sinceSeq` is RESYNC_REQUIRED (a list is cheaper). @default 1000 */
export const CHANGE_REPLAY_LIMIT = 1000;

/** How one kind of resource is read and turned into events for the replay. */
export interface ReplayKind<Row extends { id: string; projectId: string; status: string }, Ev> {
  type: FeedResourceType;
  /** The rows of these ids, read from the database (missing ones are left out). */
  read(em: EntityManager, ids: string[]): Promise<Row[]>;
  /** The event of a row still in the project: DELETED when it has ended (`ended`), CREATED when it was made (or moved in) after the seq, else UPDATED. */
  event(type: 'CREATED' | 'UPDATED' | 'DELETED', row: Row): Ev;
  /** Whether the row has ended, its event DELETED. @default status 'deleted' (an attachment ends DETACHED) */
  ended?(row: Row): boolean;
  /** The event of a row that moved to another project since: DELETED, as the project it left last saw it, at that project's seq. */
  left(row: Row, projectId: string, seq: number): Ev;
}

/** BAD_USER_INPUT unless `sinceSeq` is a whole number from 0 (the seq a list or an event gave). */
export function checkSinceSeq(sinceSeq: number): void {
  if (!Number.isSafeInteger(sinceSeq) || sinceSeq < 0) throw new BadInputError([`sinceSeq must be a whole number from 0 (the changeSeq of a list or of an event you received); got ${sinceSeq}`]);
}

/**
 * The events of the resources of `kind` changed in `projectId` after `sinceSeq`, in the order
 * of their latest changes.
 * @throws ResyncRequiredError when the feed cannot replay from `sinceSeq` (see the module).
 */
export async function replayChanges<Row extends { id: string; projectId: string; status: string }, Ev>(
  db: Db,
  projectId: string,
  sinceSeq: number,
  kind: ReplayKind<Row, Ev>,
): Promise<Ev[]> {
  const em = db.fork();
  const before = await feedPosition(em, projectId);
  if (sinceSeq > before.seq) throw new ResyncRequiredError(`sinceSeq ${sinceSeq} is ahead of this project's change feed (it is at ${before.seq})`, { sinceSeq, changeSeq: before.seq });
  const changed = await changedSince(em, projectId, kind.type, sinceSeq, CHANGE_REPLAY_LIMIT + 1);
  // Read after the log: a sweep that ran in between may have deleted events this read needed.
  const after = await feedPosition(em, projectId);
  if (sinceSeq < after.prunedSeq) {
    throw new ResyncRequiredError(`The change feed no longer keeps the changes after seq ${sinceSeq} (it keeps those after ${after.prunedSeq}, FLINT_CHANGE_RETENTION_SECONDS)`, {
      sinceSeq,
      oldestSeq: after.prunedSeq,
    });
  }
  if (changed.length > CHANGE_REPLAY_LIMIT) {
    throw new ResyncRequiredError(`More than ${CHANGE_REPLAY_LIMIT} ${kind.type}s changed after seq ${sinceSeq}, more than one replay sends`, { sinceSeq, limit: CHANGE_REPLAY_LIMIT });
  }
  return eventsOf(em, projectId, changed, kind);
}

async function eventsOf<Row extends { id: string; projectId: string; status: string }, Ev>(
  em: EntityManager,
  projectId: string,
  changed: ChangedResource[],
  kind: ReplayKind<Row, Ev>,
): Promise<Ev[]> {
  if (changed.length === 0) return [];
  const rows = new Map((await kind.read(em, changed.map((c) => c.resourceId))).map((r) => [r.id, r]));
  const out: Ev[] = [];
  for (const c of changed) {
    const row = rows.get(c.resourceId);
    if (!row) continue;
    if (row.projectId !== projectId) out.push(kind.left(row, projectId, c.seq));
    else out.push(kind.event((kind.ended?.(row) ?? row.status === 'deleted') ? 'DELETED' : c.created ? 'CREATED' : 'UPDATED', row));
  }
  return out;
}
