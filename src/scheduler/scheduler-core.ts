/**
 * The scheduler's command handling, free of NATS and of the database: it receives the
 * pool view and the capacity functions, decides with the pure placement module, and
 * emits what should be published. The adapter (`service.ts`) wires the real parts.
 */
import {
  COMMAND,
  KIND,
  poolId,
  splitPoolId,
  subjects,
  type AgentCreate,
  type AgentExtend,
  type PlacementRequest,
  type ScheduleCreate,
  type ScheduleExtend,
  type VolumeOutcomeEvent,
  type VolumeScheduled,
} from '../bus/index.js';
import {
  capacityLimitGiB,
  CapacityFilter,
  explainNoValidBackend,
  isSilent,
  isThin,
  place,
  type PoolState,
  type Rejection,
  type WeigherSetting,
} from './placement/index.js';

/** What a reservation found: it holds on the pool asked, the pool is full, or the key already holds on `heldOn`. */
export type Reserved = 'reserved' | 'full' | { heldOn: string };

export type Emit = (subject: string, kind: string, payload: unknown, msgId: string) => Promise<void>;

export interface SchedulerDeps {
  /** Every known pool with its allocation; fresh for each decision. */
  pools(): Promise<PoolState[]>;
  /**
   * Conditional reservation (`reservePlacement` of src/db/capacity-store.ts). A reservation
   * the key holds on a pool outside `movableFrom` (earlier attempts' pools) is kept, and
   * its pool returned: another copy of the same command placed it a moment ago.
   */
  reserve(volumeId: string, poolId: string, sizeGiB: number, limitGiB: number, movableFrom: readonly string[]): Promise<Reserved>;
  grow(volumeId: string, poolId: string, newSizeGiB: number, limitGiB: number): Promise<boolean>;
  emit: Emit;
  /** Pools silent for longer than this are skipped (`silenceLimitMs` of src/domain/liveness.ts). */
  staleAfterMs: number;
  /**
   * When the only pools that could take a volume are silent, wait this long (from the
   * command's publication) for their heartbeats before failing it: after a NATS outage
   * every pool looks silent for a moment, and that is no reason to fail a volume.
   */
  staleGraceMs: number;
  /**
   * Whether the volume still waits for a place (it is still CREATING). A create whose
   * volume was force-deleted or reset meanwhile is dropped instead of placed, so no
   * image and no reservation are left behind. Absent: always placed.
   */
  stillCreating?(volumeId: string): Promise<boolean>;
  /**
   * The pool (`host@pool`) the volume's capacity is reserved on, if any. A command that
   * comes again (its ack was lost: a NATS node died, a scheduler was killed) finds the
   * placement it made; placing it anew would make a second image on another pool.
   * Absent: every delivery is placed afresh.
   */
  reservedPool?(volumeId: string): Promise<string | null>;
  /**
   * Whether an operation is still open (PENDING or RUNNING). An extend whose operation its
   * deadline already failed is dropped: growing the reservation then would hold capacity
   * for a size the volume never got. Absent: every extend is handled.
   */
  operationOpen?(operationId: string): Promise<boolean>;
  weighers?: readonly WeigherSetting[];
  now?: () => Date;
}

export class SchedulerCore {
  constructor(private readonly deps: SchedulerDeps) {}

  /**
   * Places the volume, or fails it with NO_VALID_BACKEND. Returns `{ retryAfterMs }`
   * instead when only silent pools stand in the way and the grace period since
   * `publishedAt` is not over.
   */
  async createVolume(cmd: ScheduleCreate, publishedAt: Date = this.now()): Promise<'done' | { retryAfterMs: number }> {
    const { request: req, operationId } = cmd;
    if (this.deps.stillCreating && !(await this.deps.stillCreating(req.volumeId))) return 'done';
    const pools = await this.deps.pools();
    const exclude = cmd.excluded.map((e) => e.pool);
    // A reservation on a pool this attempt may use was made by this attempt: the earlier ones' pools are all excluded.
    const held = await this.deps.reservedPool?.(req.volumeId);
    if (held && !exclude.includes(held)) {
      await this.dispatchHeld(cmd, held, pools);
      return 'done';
    }
    const staleBefore = new Date(this.now().getTime() - this.deps.staleAfterMs);
    const placement = place(req, pools, { exclude, staleBefore, weighers: this.deps.weighers });
    const rejections: Rejection[] = placement.rejections.map((r) => {
      const tried = cmd.excluded.find((e) => e.pool === r.pool);
      return tried ? { ...r, reason: `failed on a previous attempt: ${tried.reason}` } : r;
    });
    for (const { pool } of placement.candidates) {
      const id = poolId(pool.host, pool.pool);
      const limit = capacityLimitGiB(pool, isThin(pool, req));
      const reserved = await this.deps.reserve(req.volumeId, id, req.sizeGiB, limit, exclude);
      if (reserved === 'full') {
        rejections.push({ pool: id, filter: 'CapacityFilter', reason: 'its capacity was just taken by other volumes' });
        continue;
      }
      // Another scheduler placed a second copy of this command a moment ago: the volume goes where it did.
      await (reserved === 'reserved' ? this.dispatch(cmd, pool) : this.dispatchHeld(cmd, reserved.heldOn, pools));
      return 'done';
    }
    // Wait only for silent pools that would take the volume once they report again.
    const waitedMs = this.now().getTime() - publishedAt.getTime();
    if (waitedMs < this.deps.staleGraceMs) {
      const silent = pools.filter((p) => isSilent(p, staleBefore));
      if (place(req, silent, { exclude }).candidates.length > 0) return { retryAfterMs: Math.min(1000, this.deps.staleAfterMs / 3) };
    }
    const failed: VolumeOutcomeEvent = {
      operationId,
      volumeId: req.volumeId,
      outcome: 'create.failed',
      error: { code: 'NO_VALID_BACKEND', message: explainNoValidBackend(req, rejections) },
    };
    await this.deps.emit(subjects.schedulerEvent('volume', req.volumeId), KIND.volumeOutcome, failed, `${operationId}:create.failed`);
    return 'done';
  }

  private dispatchHeld(cmd: ScheduleCreate, held: string, pools: readonly PoolState[]): Promise<void> {
    const known = pools.find((p) => poolId(p.host, p.pool) === held);
    return this.dispatch(cmd, { ...splitPoolId(held), availabilityZone: known?.availabilityZone ?? cmd.request.availabilityZone ?? '' });
  }

  /**
   * Tells the gateways where the volume goes and sends the agent its create. The message ids
   * depend only on the operation and the attempt, so a second dispatch of one placement is
   * the same two messages, which JetStream's duplicate window drops.
   */
  private async dispatch(cmd: ScheduleCreate, pool: { host: string; pool: string; availabilityZone: string }): Promise<void> {
    const { request: req, operationId, attempt } = cmd;
    const scheduled: VolumeScheduled = {
      operationId,
      volumeId: req.volumeId,
      host: pool.host,
      pool: pool.pool,
      availabilityZone: pool.availabilityZone,
      attempt,
    };
    await this.deps.emit(subjects.schedulerEvent('volume', req.volumeId), KIND.volumeScheduled, scheduled, `${operationId}:scheduled:${attempt}`);
    const command: AgentCreate = {
      operationId,
      volumeId: req.volumeId,
      pool: pool.pool,
      sizeGiB: req.sizeGiB,
      attempt,
      request: req,
      excluded: cmd.excluded,
      ...(cmd.source ? { source: cmd.source } : {}),
    };
    await this.deps.emit(subjects.agent(pool.host, COMMAND.createVolume), KIND.agentCreate, command, `${operationId}:agent.create:${attempt}`);
  }

  /** Extends in place: the pool must have room for the growth (Cinder checks capacity through the scheduler too). */
  async extendVolume(cmd: ScheduleExtend): Promise<void> {
    // Found by the chaos suite: the command stream stalled past the deadline, which moved the volume to
    // ERROR_EXTENDING and shrank its reservation; the extend delivered after that grew it again for good.
    if (this.deps.operationOpen && !(await this.deps.operationOpen(cmd.operationId))) return;
    const id = poolId(cmd.host, cmd.pool);
    const pool = (await this.deps.pools()).find((p) => poolId(p.host, p.pool) === id);
    const reject = (code: string, message: string): Promise<void> =>
      this.deps.emit(
        subjects.schedulerEvent('volume', cmd.volumeId),
        KIND.volumeOutcome,
        { operationId: cmd.operationId, volumeId: cmd.volumeId, outcome: 'extend.rejected', error: { code, message } } satisfies VolumeOutcomeEvent,
        `${cmd.operationId}:extend.rejected`,
      );
    const stale = pool && isSilent(pool, new Date(this.now().getTime() - this.deps.staleAfterMs));
    if (!pool || stale) {
      return reject('SERVICE_UNAVAILABLE', `The volume's pool ${id} has not reported recently; start \`flint agent\` on ${cmd.host} and extend again. The volume is unchanged.`);
    }
    const growth = cmd.newSizeGiB - cmd.oldSizeGiB;
    const req: PlacementRequest = { volumeId: cmd.volumeId, projectId: '', sizeGiB: growth, availabilityZone: null, volumeType: cmd.volumeType ?? null };
    const fits = CapacityFilter.filter(pool, req);
    const limit = capacityLimitGiB(pool, isThin(pool, req));
    if (!fits.pass || !(await this.deps.grow(cmd.volumeId, id, cmd.newSizeGiB, limit))) {
      const why = fits.pass ? 'its capacity is already promised to other volumes' : fits.reason;
      return reject(
        'NO_VALID_BACKEND',
        `Pool ${id} has no room to grow the volume by ${growth} GiB to ${cmd.newSizeGiB} GiB: ${why}. The volume is unchanged; ask for a smaller size or free space on the pool.`,
      );
    }
    const command: AgentExtend = { operationId: cmd.operationId, volumeId: cmd.volumeId, pool: cmd.pool, newSizeGiB: cmd.newSizeGiB };
    await this.deps.emit(subjects.agent(cmd.host, COMMAND.extendVolume), KIND.agentExtend, command, `${cmd.operationId}:agent.extend`);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}
