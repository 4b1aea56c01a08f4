/**
 * The chaos checker's judgement (pure): what the workload was told was done, against what
 * the database, the agents' pools and a subscriber on the other gateway show once the
 * cluster has recovered. Each count is a way to lose trust in a storage system:
 *   lost        an acknowledged mutation whose effect is not in the end state;
 *   stuck       a resource still in a transitional status after recovery and the deadline;
 *   orphaned    an image in a pool that no live volume owns, or a volume whose image is gone;
 *   corrupted   a canary volume whose bytes differ from what was written through its export, or
 *               an image `qemu-img check` finds corrupt (a full disk must fail writes, not break images);
 *   drift       a pool's or the project's usage that differs from a recount;
 *   missed      a volume whose last event seen by the subscriber is older than its state;
 *   disordered  an event for a volume at or below a seq already seen for it.
 */

export type AckKind = 'create' | 'delete' | 'extend' | 'snapshot' | 'backup' | 'attach' | 'detach';

/** A mutation the API acknowledged (answered without errors). */
export interface Ack {
  kind: AckKind;
  volumeId: string;
  /** The snapshot, backup or attachment it made or removed. */
  resourceId?: string;
  /** extend: the new size. */
  sizeGiB?: number;
  /** Order of acknowledgement. */
  n: number;
  /** The operation the mutation started, when it started one. */
  operationId?: string;
}

export interface SeenVolume {
  id: string;
  status: string;
  sizeGiB: number;
  pool: string | null;
  changeSeq: number;
}

export interface EndState {
  volumes: SeenVolume[];
  snapshots: Array<{ id: string; volumeId: string; status: string; sizeGiB: number }>;
  backups: Array<{ id: string; volumeId: string; status: string }>;
  attachments: Array<{ id: string; volumeId: string; status: string }>;
  pools: Array<{ id: string; allocatedCapacityGiB: number }>;
  /** The project's quota usage (inUse), and the sum of what it holds as reserved (work under way). */
  quota: { volumes: number; gigabytes: number; snapshots: number; backups: number; reserved: number };
  /** Volume ids of the images in each pool (`agent-1@pool` → ids), read from the pool directories. */
  poolImages: Map<string, string[]>;
  /** What the agents export (qemu-nbd, qemu-storage-daemon, tgt targets), with the ids each names. */
  exports: Array<{ what: string; ids: string[] }>;
  /** Canary volume id → whether its bytes read back as written. */
  canaries: Map<string, boolean>;
  /** Images `qemu-img check` found corrupt, each with what it said. */
  unsoundImages: string[];
  /** Per volume, the changeSeqs the subscriber saw, in arrival order. */
  events: Map<string, number[]>;
}

export interface Counts {
  lost: number;
  stuck: number;
  orphaned: number;
  corrupted: number;
  drift: number;
  missed: number;
  disordered: number;
  /** Ended in an error status (reported, not a failure of the suite: a fault may fail an operation). */
  errored: number;
  /** Acknowledged, then failed in the open: its operation FAILED, saying why (reported, like errored). */
  failed: number;
}

export interface Verdict {
  counts: Counts;
  /** One line per problem, naming the resource. */
  details: string[];
}

const TRANSITIONAL = new Set(['CREATING', 'DELETING', 'EXTENDING', 'ATTACHING', 'DETACHING', 'BACKING_UP', 'RESTORING', 'RESTORING_BACKUP', 'MAINTENANCE']);
const GONE = new Set(['DELETED']);

/** The operations of the acknowledged mutations a verdict calls lost (to ask whether they failed in the open). */
export function lostOperations(acks: readonly Ack[], v: Verdict): string[] {
  const lost = new Set(v.details.filter((d) => d.startsWith('lost: ')).map((d) => Number(d.match(/#(\d+)/)?.[1])));
  return acks.filter((a) => lost.has(a.n) && a.operationId !== undefined).map((a) => a.operationId!);
}

/** Whether a status is one a resource passes through (and must leave by itself). */
export function isTransitional(status: string): boolean {
  return TRANSITIONAL.has(status);
}

/**
 * `failedOps`: operations known to have FAILED. An acknowledged mutation whose effect is
 * missing is lost unless its operation failed in the open (with a message saying why): that
 * counts as failed, like a resource in an error status.
 */
export function judge(acks: readonly Ack[], end: EndState, failedOps: ReadonlySet<string> = new Set()): Verdict {
  const details: string[] = [];
  const counts: Counts = { lost: 0, stuck: 0, orphaned: 0, corrupted: 0, drift: 0, missed: 0, disordered: 0, errored: 0, failed: 0 };
  let current: Ack | undefined;
  const problem = (kind: keyof Counts, line: string) => {
    const k = kind === 'lost' && current?.operationId !== undefined && failedOps.has(current.operationId) ? 'failed' : kind;
    counts[k]++;
    details.push(`${k}: ${line}${k === 'failed' ? ` (operation ${current!.operationId} FAILED)` : ''}`);
  };
  const volumes = new Map(end.volumes.filter((v) => !GONE.has(v.status)).map((v) => [v.id, v]));
  const deleted = new Set(acks.filter((a) => a.kind === 'delete').map((a) => a.volumeId));
  const byId = <T extends { id: string; status: string }>(list: T[]) => new Map(list.filter((x) => !GONE.has(x.status)).map((x) => [x.id, x]));
  const snapshots = byId(end.snapshots);
  const backups = byId(end.backups);
  const attachments = byId(end.attachments.filter((a) => a.status !== 'DETACHED'));
  const detached = new Set(acks.filter((a) => a.kind === 'detach').map((a) => a.resourceId));

  for (const a of acks) {
    current = a;
    const v = volumes.get(a.volumeId);
    const what = `${a.kind} #${a.n} of volume ${a.volumeId}${a.resourceId ? ` (${a.resourceId})` : ''}`;
    switch (a.kind) {
      case 'create':
        if (!v && !deleted.has(a.volumeId)) problem('lost', `${what}: the volume is gone, and no delete of it was acknowledged`);
        break;
      case 'delete':
        if (v) problem('lost', `${what}: the volume is still there (${v.status})`);
        break;
      case 'extend':
        if (v && v.sizeGiB < a.sizeGiB! && v.status !== 'ERROR_EXTENDING') problem('lost', `${what} to ${a.sizeGiB} GiB: it has ${v.sizeGiB} GiB (${v.status})`);
        break;
      case 'snapshot':
        if (!deleted.has(a.volumeId) && !snapshots.has(a.resourceId!)) problem('lost', `${what}: the snapshot is gone`);
        break;
      case 'backup':
        // A backup outlives its volume.
        if (!backups.has(a.resourceId!)) problem('lost', `${what}: the backup is gone`);
        break;
      case 'attach':
        if (!deleted.has(a.volumeId) && !detached.has(a.resourceId) && !attachments.has(a.resourceId!)) problem('lost', `${what}: the attachment is gone, and no detach of it was acknowledged`);
        break;
      case 'detach':
        if (attachments.has(a.resourceId!)) problem('lost', `${what}: the attachment is still ${attachments.get(a.resourceId!)!.status}`);
        break;
    }
  }

  current = undefined;
  const all = [
    ...end.volumes.map((x) => ['volume', x] as const),
    ...end.snapshots.map((x) => ['snapshot', x] as const),
    ...end.backups.map((x) => ['backup', x] as const),
    ...end.attachments.map((x) => ['attachment', x] as const),
  ];
  for (const [kind, x] of all) {
    if (isTransitional(x.status)) problem('stuck', `${kind} ${x.id} is still ${x.status}`);
    else if (x.status.startsWith('ERROR')) {
      counts.errored++;
      details.push(`errored: ${kind} ${x.id} is ${x.status}`);
    }
  }

  // Every image belongs to a live volume of that pool, and every placed live volume has its image.
  const owner = new Map<string, string>();
  for (const [pool, ids] of end.poolImages) for (const id of ids) owner.set(id, pool);
  for (const [id, pool] of owner) {
    const v = volumes.get(id);
    if (!v) problem('orphaned', `image of volume ${id} in ${pool}: no such volume`);
    else if (v.pool !== null && v.pool !== pool && v.status !== 'MAINTENANCE') problem('orphaned', `image of volume ${id} in ${pool}: the volume is in ${v.pool}`);
  }
  for (const v of volumes.values()) {
    if (v.pool !== null && v.status !== 'CREATING' && v.status !== 'ERROR' && !owner.has(v.id) && end.poolImages.has(v.pool)) problem('orphaned', `volume ${v.id} (${v.status}) in ${v.pool}: its image is missing`);
  }

  // An export serves a live attachment, or a volume being read (a backup, a migration).
  const serving = new Set<string>();
  for (const a of end.attachments) if (['ATTACHING', 'ATTACHED', 'DETACHING', 'RESERVED'].includes(a.status)) serving.add(a.id).add(a.volumeId);
  for (const v of end.volumes) if (['BACKING_UP', 'MAINTENANCE', 'RESTORING_BACKUP'].includes(v.status)) serving.add(v.id);
  for (const e of end.exports) if (!e.ids.some((id) => serving.has(id))) problem('orphaned', `export ${e.what} (${e.ids.join(', ') || 'names no id'}): no live attachment`);

  for (const [id, ok] of end.canaries) if (!ok) problem('corrupted', `canary volume ${id} does not read back what was written`);
  for (const line of end.unsoundImages) problem('corrupted', line);

  // Usage against a recount of the live volumes.
  // An ERROR volume counts where its image is: a create that its deadline failed and that the
  // agent finished later holds its pool's capacity again (the late rules, src/domain/deadlines.ts).
  const placed = new Map<string, number>();
  for (const v of volumes.values()) {
    if (v.pool !== null && (v.status !== 'ERROR' || owner.get(v.id) === v.pool)) placed.set(v.pool, (placed.get(v.pool) ?? 0) + v.sizeGiB);
  }
  for (const p of end.pools) {
    const recount = placed.get(p.id) ?? 0;
    if (Math.abs(p.allocatedCapacityGiB - recount) > 1e-9) problem('drift', `pool ${p.id} counts ${p.allocatedCapacityGiB} GiB allocated, its volumes add up to ${recount}`);
  }
  const live = [...volumes.values()];
  const recount = {
    volumes: live.length,
    // As Cinder counts it: a snapshot's size is in `gigabytes` too.
    gigabytes: live.reduce((s, v) => s + v.sizeGiB, 0) + [...snapshots.values()].reduce((s, x) => s + x.sizeGiB, 0),
    snapshots: snapshots.size,
    backups: backups.size,
  };
  for (const k of Object.keys(recount) as Array<keyof typeof recount>) {
    if (end.quota[k] !== recount[k]) problem('drift', `quota usage ${k}: ${end.quota[k]}, a recount gives ${recount[k]}`);
  }
  if (end.quota.reserved !== 0) problem('drift', `quota: ${end.quota.reserved} still reserved with no work under way`);

  for (const v of end.volumes) {
    const seen = end.events.get(v.id) ?? [];
    // A repeat of the newest event (after a resume) is harmless; an older one after a newer is not.
    let newest = -1;
    for (const seq of seen) {
      if (seq < newest) problem('disordered', `volume ${v.id}: event seq ${seq} after ${newest}`);
      newest = Math.max(newest, seq);
    }
    const last = seen.length ? Math.max(...seen) : -1;
    if (last < v.changeSeq) problem('missed', `volume ${v.id}: last event seen at seq ${last}, its state is at ${v.changeSeq}`);
  }
  return { counts, details };
}

/** The summary line of a run. */
export function summary(trials: number, faults: number, c: Counts, notRun: readonly string[] = []): string {
  const line = `chaos: ${trials} trials, ${faults} faults, ${c.lost} lost, ${c.stuck} stuck, ${c.orphaned} orphaned, ${c.corrupted} corrupted, ${c.drift} drift, ${c.missed} missed, ${c.disordered} disordered (${c.errored} ended in an error status, ${c.failed} acknowledged then failed with a message)`;
  return notRun.length === 0 ? line : `${line}; NOT RUN here: ${notRun.join('; ')}`;
}

/** Per kind, the distinct problems the trials found (one still there in a later trial counts once). */
export function distinctCounts(runs: ReadonlyArray<{ details: readonly string[] }>): Counts {
  const out: Counts = { lost: 0, stuck: 0, orphaned: 0, corrupted: 0, drift: 0, missed: 0, disordered: 0, errored: 0, failed: 0 };
  for (const line of new Set(runs.flatMap((r) => r.details))) {
    const kind = line.slice(0, line.indexOf(':')) as keyof Counts;
    if (kind in out) out[kind]++;
  }
  return out;
}
