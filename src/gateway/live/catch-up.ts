/**
 * The live catch-up: what the change log has that no notice brought. A gateway that commits a
 * change and dies before its notice (hub.ts) leaves every other gateway's subscribers without
 * it until they resubscribe with `sinceSeq`. So each gateway, while it has subscribers, reads
 * the projects' seqs every CATCH_UP_MS and, for a stretch of a project's log older than
 * CATCH_UP_GRACE_MS (catch-up-cursor.ts), hands its subscribers each change it did not deliver:
 * the row is read as for a notice, so what they see still comes from the database.
 *
 * Costs one read of `change_counter` a second while anyone listens, and one read of the log per
 * project that changed; a change already delivered is not read again.
 */
import type { LiveNotice } from '../../bus/index.js';
import { changesBetween, FEED_TABLES, feedCounters, type Db, type FeedResourceType, type LoggedChange } from '../../db/index.js';
import { CatchUpCursor } from './catch-up-cursor.js';

/** @default 1_000 */
export const CATCH_UP_MS = 1_000;
/** How old a change is before the catch-up looks for it (its notice normally came long before). @default 2_000 */
export const CATCH_UP_GRACE_MS = 2_000;
/** Events read per project per look; the rest wait for the next. @default 500 */
export const CATCH_UP_BATCH = 500;

/** The gateway's subscribers of one resource type, as the catch-up sees them. */
export interface CatchUpTarget {
  /** Whether anyone here follows this resource type (else nothing is read for it). */
  listening(type: FeedResourceType): boolean;
  /** Whether this gateway already handed that version (or a newer one) of the resource, as of that project, to its subscribers. */
  delivered(type: FeedResourceType, projectId: string, id: string, version: number): boolean;
  /** Reads the resource and hands it to the subscribers, as its notice would have. */
  deliver(type: FeedResourceType, projectId: string, change: LoggedChange): Promise<void>;
}

/** The notice a change found in the log stands for: a DELETED names its project, in case the row has moved on since. */
export function caughtUpNotice(projectId: string, change: LoggedChange): LiveNotice {
  return { id: change.resourceId, type: change.type === 'CREATED' ? 'CREATED' : 'UPDATED', ...(change.type === 'DELETED' ? { leftProject: projectId } : {}) };
}

export interface CatchUp {
  /** One look (the timer's; tests call it with their clock). */
  tick(now?: number): Promise<number>;
  /** A notice could not be read (the database was out of reach): the next look takes every change so far, without the grace. */
  hurry(): void;
  stop(): void;
}

export function startLiveCatchUp(db: Db, targets: readonly CatchUpTarget[], onError: (err: unknown) => void, opts: { everyMs?: number; graceMs?: number } = {}): CatchUp {
  const cursor = new CatchUpCursor(opts.graceMs ?? CATCH_UP_GRACE_MS);
  const listening = (type: FeedResourceType) => targets.some((t) => t.listening(type));
  let running = false;
  const tick = async (now = Date.now()): Promise<number> => {
    if (running) return 0;
    if (!FEED_TABLES.some(listening)) {
      cursor.reset();
      return 0;
    }
    running = true;
    let handed = 0;
    try {
      for (const stretch of cursor.due(await feedCounters(db.fork()), now)) {
        const changes = await changesBetween(db.fork(), stretch.projectId, stretch.after, stretch.upTo, CATCH_UP_BATCH);
        // A resource changed twice in the stretch is read once, at its latest change.
        const latest = new Map<string, LoggedChange>();
        for (const c of changes) latest.set(`${c.resourceType}:${c.resourceId}`, c);
        for (const c of latest.values()) {
          for (const t of targets) {
            if (!t.listening(c.resourceType) || t.delivered(c.resourceType, stretch.projectId, c.resourceId, c.version)) continue;
            await t.deliver(c.resourceType, stretch.projectId, c);
            handed++;
          }
        }
        cursor.lookedAt(stretch.projectId, changes.length === CATCH_UP_BATCH ? changes.at(-1)!.seq : stretch.upTo);
      }
    } catch (err) {
      // The database is out of reach: so were the rows of the notices meanwhile; look at everything once it is back.
      cursor.hurry();
      throw err;
    } finally {
      running = false;
    }
    return handed;
  };
  const timer = setInterval(() => void tick().catch(onError), opts.everyMs ?? CATCH_UP_MS);
  timer.unref();
  return { tick, hurry: () => cursor.hurry(), stop: () => clearInterval(timer) };
}
