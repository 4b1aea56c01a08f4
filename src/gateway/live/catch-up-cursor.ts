/**
 * Where a gateway's live catch-up (catch-up.ts) stands in each project's change log, and which
 * stretch of it is due for a look. Pure: the counters and the clock are passed in.
 *
 * A stretch is due once its end was first seen at least `graceMs` ago: a change's notice comes
 * within milliseconds of its commit, so by then every change of the stretch that was announced
 * has been delivered, and what the catch-up finds undelivered was never announced (its gateway
 * died between the commit and the notice) or its notice was lost.
 *
 * After `hurry()` (a notice this gateway could not read, or a look that failed: the database was
 * out of reach, and so were the rows of every notice meanwhile) the next look takes everything up
 * to the current seqs at once, with no grace.
 */

/** Seqs after `after`, up to `upTo`, of one project. */
export interface DueStretch {
  projectId: string;
  after: number;
  upTo: number;
}

export class CatchUpCursor {
  /** The last seq looked at, per project; undefined until the first counters are read. */
  private looked: Map<string, number> | undefined;
  /** Per project, the seq seen ahead of `looked` and when it was first seen. */
  private readonly ahead = new Map<string, { seq: number; since: number }>();
  private hurried = false;

  constructor(private readonly graceMs: number) {}

  /**
   * Takes the projects' current seqs; returns the stretches now due. The first call only sets
   * the starting point (what was committed before the gateway listened is not live). A project
   * seen for the first time later starts at 0: all of its log is new.
   */
  due(counters: ReadonlyMap<string, number>, now: number): DueStretch[] {
    if (!this.looked) {
      this.looked = new Map(counters);
      return [];
    }
    const out: DueStretch[] = [];
    const hurried = this.hurried;
    this.hurried = false;
    for (const [projectId, seq] of counters) {
      const after = this.looked.get(projectId) ?? 0;
      if (seq <= after) continue;
      if (hurried) {
        this.ahead.set(projectId, { seq, since: now });
        out.push({ projectId, after, upTo: seq });
        continue;
      }
      const pending = this.ahead.get(projectId);
      if (!pending) this.ahead.set(projectId, { seq, since: now });
      else if (now - pending.since >= this.graceMs) out.push({ projectId, after, upTo: pending.seq });
    }
    return out;
  }

  /** The stretch was looked at up to `upTo` (all of it, or as far as one read went). */
  lookedAt(projectId: string, upTo: number): void {
    if (!this.looked) return;
    if (upTo > (this.looked.get(projectId) ?? 0)) this.looked.set(projectId, upTo);
    const pending = this.ahead.get(projectId);
    if (pending && pending.seq <= upTo) this.ahead.delete(projectId);
  }

  /** Something may have been missed just now: the next look takes every change so far, without the grace. */
  hurry(): void {
    this.hurried = true;
  }

  /** Forgets where it stood: nobody listens, and the next `due` starts from the counters again. */
  reset(): void {
    this.looked = undefined;
    this.ahead.clear();
  }
}

/**
 * The versions of resources this gateway handed to its subscribers, per project the event was
 * for (a moved resource is DELETED for one and CREATED for the other); the oldest are forgotten
 * first when full (an entry forgotten only costs a second read, which the subscribers' stale
 * check drops).
 */
export class DeliveredVersions {
  private readonly versions = new Map<string, number>();

  constructor(private readonly max = 20_000) {}

  note(projectId: string, id: string, version: number): void {
    const key = `${projectId}/${id}`;
    if ((this.versions.get(key) ?? -1) >= version) return;
    this.versions.delete(key);
    this.versions.set(key, version);
    if (this.versions.size > this.max) this.versions.delete(this.versions.keys().next().value as string);
  }

  /** Whether `version` of `id` (or a newer one) was delivered as of `projectId`. */
  has(projectId: string, id: string, version: number): boolean {
    return (this.versions.get(`${projectId}/${id}`) ?? -1) >= version;
  }
}
