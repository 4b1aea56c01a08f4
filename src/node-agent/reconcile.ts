/**
 * Start-up reconciliation (Cinder's `_do_cleanup`, adapted). JetStream keeps every command
 * not yet done, so an agent that restarts has no half-done work to clean up; what can be
 * left is drift between the database and the disk. On start the agent asks the gateways
 * (`flint.rpc.reconcile`) which volumes the DB places on its host, lists its pools, and:
 * - a volume the DB has in a state that needs its image (AVAILABLE, ERROR_EXTENDING, …)
 *   whose image is not there is reported (`volume.missing` on FLINT_EVT); the recorder
 *   moves it to ERROR with a message, if it did not change meanwhile;
 * - an image no DB volume claims is logged as an orphan (with its path) and counted,
 *   never deleted.
 * `compareWithDisk` is the pure part.
 */
import {
  decodeEnvelope,
  decodePayload,
  encode,
  publish,
  reconcileReply,
  RECOVERY_KIND,
  subjects,
  type Bus,
  type ReconcileAttachment,
  type ReconcileBackups,
  type ReconcileReply,
  type ReconcileRequest,
  type VolumeMissing,
} from '../bus/index.js';
import type { Logger } from '../config/logger.js';
import { poolLocation } from '../config/pool-config.js';
import { IMAGE_EXPECTED_STATUSES } from '../domain/deadlines.js';
import type { AgentPool } from './heartbeat.js';

/** How long the agent waits for a gateway's answer. @default 5_000 */
export const RECONCILE_TIMEOUT_MS = 5_000;
/** When no gateway answers at start, the longest wait between tries. @default 30_000 */
export const RECONCILE_RETRY_MS = 30_000;

export type DbVolume = ReconcileReply['volumes'][number];

/** Called with the exports the DB says this host should have. */
export type OnAttachments = (wanted: readonly ReconcileAttachment[]) => Promise<unknown>;

export interface DiskPool {
  pool: string;
  volumeIds: readonly string[];
}

export interface ReconcilePlan {
  /** Volumes to report: the DB needs their image, the pool does not have it. */
  missing: Array<Omit<VolumeMissing, 'host'>>;
  /** Images on a pool that no DB volume on this host claims. */
  orphans: Array<{ pool: string; volumeId: string }>;
  /** DB volumes looked at. */
  checked: number;
}

/** Compares what the DB places on this host with what the host's pools hold. Pure. */
export function compareWithDisk(dbVolumes: readonly DbVolume[], disk: readonly DiskPool[]): ReconcilePlan {
  const onDisk = new Map(disk.map((p) => [p.pool, new Set(p.volumeIds)]));
  const missing: ReconcilePlan['missing'] = [];
  for (const v of dbVolumes) {
    if (v.pool === null || !IMAGE_EXPECTED_STATUSES.includes(v.status)) continue;
    const images = onDisk.get(v.pool);
    if (!images) missing.push({ volumeId: v.volumeId, pool: v.pool, status: v.status, version: v.version, poolConfigured: false });
    else if (!images.has(v.volumeId)) missing.push({ volumeId: v.volumeId, pool: v.pool, status: v.status, version: v.version, poolConfigured: true });
  }
  // An image is claimed by a DB volume with that id on that pool, or not yet placed on a pool.
  const claimed = new Set(dbVolumes.map((v) => `${v.pool ?? '*'}/${v.volumeId}`));
  const orphans: ReconcilePlan['orphans'] = [];
  for (const p of disk) {
    for (const id of p.volumeIds) {
      if (!claimed.has(`${p.pool}/${id}`) && !claimed.has(`*/${id}`)) orphans.push({ pool: p.pool, volumeId: id });
    }
  }
  return { missing, orphans, checked: dbVolumes.length };
}

/** Asks a gateway, compares, reports the missing and logs the orphans. Throws when no gateway answered. */
/** What else an agent re-establishes from the gateway's answer: its attachments' exports, its lost backups. */
export interface ReconcileHooks {
  onAttachments?: OnAttachments;
  onBackups?: (backups: ReconcileBackups) => Promise<unknown>;
}

export async function reconcileOnce(
  bus: Bus,
  host: string,
  pools: readonly AgentPool[],
  log: Logger,
  timeoutMs = RECONCILE_TIMEOUT_MS,
  hooks: ReconcileHooks = {},
): Promise<ReconcilePlan> {
  const reply = await bus.nc.request(subjects.reconcile(host), encode(RECOVERY_KIND.reconcileRequest, { host } satisfies ReconcileRequest), { timeout: timeoutMs });
  const answer = decodePayload(decodeEnvelope(reply.data), reconcileReply);
  // The exports the DB says this host should have (issue 4): re-created, unknown ones removed.
  if (answer.attachments && hooks.onAttachments) {
    await hooks.onAttachments(answer.attachments).catch((err: unknown) => log.error({ err }, 'could not re-create the exports of this host\'s attachments'));
  }
  // The disk is listed after the DB was read: an image made meanwhile belongs to a volume the DB had as CREATING.
  const disk: DiskPool[] = [];
  for (const p of pools) disk.push({ pool: p.config.name, volumeIds: await p.driver.listVolumes() });
  const plan = compareWithDisk(answer.volumes, disk);
  for (const m of plan.missing) {
    const payload: VolumeMissing = { ...m, host };
    await publish(bus, subjects.agentEvent(host, 'volume', m.volumeId), RECOVERY_KIND.volumeMissing, payload, `reconcile:${m.volumeId}:${m.version}`);
    log.error({ volumeId: m.volumeId, pool: m.pool, status: m.status }, 'volume image missing on this host; reported (the volume goes to ERROR)');
  }
  for (const o of plan.orphans) {
    const pool = pools.find((p) => p.config.name === o.pool);
    const path = (await pool?.driver.getVolume(o.volumeId).catch(() => null))?.location ?? (pool ? poolLocation(pool.config) : undefined);
    log.warn({ pool: o.pool, volumeId: o.volumeId, path }, 'orphan image: no volume in the database claims it; left in place (delete it by hand if it is not needed)');
  }
  // Backups the DB has this host working on, which a restarted agent is not (src/node-agent/backups.ts).
  if (hooks.onBackups) await hooks.onBackups(answer.backups ?? []);
  log.info({ host, checked: plan.checked, missing: plan.missing.length, orphans: plan.orphans.length }, 'start-up reconciliation done');
  return plan;
}

/** The wait before try `n` (1-based) after a failed one: 1 s, doubling, at most `capMs`. Pure. */
export function reconcileRetryDelay(n: number, capMs = RECONCILE_RETRY_MS): number {
  return Math.min(capMs, 1000 * 2 ** Math.max(0, n - 1));
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs the reconciliation now; when no gateway answers (none started yet, or the bus is
 * down), keeps trying in the background, 1 s after the first failure and doubling up to
 * `retryMs`, until one answers: exports and lost backups must come back even when the
 * gateways start after the agent. `stop()` ends the tries.
 */
export async function startReconciliation(
  bus: Bus,
  host: string,
  pools: readonly AgentPool[],
  log: Logger,
  opts: { timeoutMs?: number; retryMs?: number } & ReconcileHooks = {},
): Promise<{ stop(): void }> {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (n: number): Promise<void> => {
    try {
      await reconcileOnce(bus, host, pools, log, opts.timeoutMs, opts);
    } catch (err) {
      if (stopped) return;
      const retryInMs = reconcileRetryDelay(n, opts.retryMs);
      // The first miss is worth a line (a gateway starting after the agent is normal); the rest only at debug.
      if (n === 1) log.info({ reason: reason(err), retryInMs }, 'start-up reconciliation: no gateway answered yet; retrying until one does');
      else log.debug({ reason: reason(err), retryInMs, attempt: n }, 'start-up reconciliation: still no answer');
      timer = setTimeout(() => void attempt(n + 1), retryInMs);
      timer.unref();
    }
  };
  await attempt(1);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
