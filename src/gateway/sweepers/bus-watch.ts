/**
 * Holds deadlines while JetStream is unreachable (the rule: src/domain/bus-hold.ts). Every
 * gateway asks for the command and event streams' info every `BUS_PROBE_EVERY_MS`; when
 * either does not answer within `probeTimeoutMs`, or has no quorum of current replicas, it
 * pushes the deadlines of the open operations past the outage, and logs the outage once when
 * it begins and once when it ends.
 */
import { STREAM_CMD, STREAM_EVT, type Bus } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { holdDeadlines, type Db } from '../../db/index.js';
import { busHold, holdMs, streamHasQuorum, type StreamReplicas } from '../../domain/bus-hold.js';
import type { StreamInfo } from '@nats-io/jetstream';

export const BUS_PROBE_EVERY_MS = 2_000;

export class BusWatch {
  /** When the current outage began; null while the bus answers. */
  private downSince: number | null = null;
  /** The stream replicas last seen not current, for the log. */
  private behind = '';

  constructor(
    private readonly bus: Bus,
    private readonly db: Db,
    private readonly log: Logger,
    private readonly timeoutSeconds: number,
    private readonly probeTimeoutMs = 2_000,
  ) {}

  /** One probe: whether JetStream answered, with a quorum of each stream's replicas current. When it did not, the deadlines are held. */
  async check(now = Date.now()): Promise<boolean> {
    if (await this.answers()) {
      if (this.downSince !== null) this.log.warn({ downMs: now - this.downSince }, 'JetStream answers again; operation deadlines run again');
      this.downSince = null;
      return true;
    }
    if (this.downSince === null) {
      this.downSince = now;
      this.log.warn({ holdMs: holdMs(this.timeoutSeconds) }, 'JetStream does not answer, or a stream has no quorum of current replicas; operation deadlines are held until it has been back for a while');
    }
    try {
      await holdDeadlines(this.db.fork(), busHold(now, this.timeoutSeconds));
    } catch (err) {
      this.log.warn({ err }, 'could not hold operation deadlines (the database is away too); will retry');
    }
    return false;
  }

  private async answers(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.probeTimeoutMs);
    });
    const probe = Promise.all([this.bus.jsm.streams.info(STREAM_CMD), this.bus.jsm.streams.info(STREAM_EVT)]).catch(() => null);
    let infos: StreamInfo[] | null;
    try {
      infos = await Promise.race([probe, late]);
    } finally {
      clearTimeout(timer);
    }
    if (!infos) return false;
    const streams = infos.map((i) => ({ name: i.config.name, replicas: replicasOf(i) }));
    this.noteLagging(streams);
    return streams.every((s) => streamHasQuorum(s.replicas));
  }

  /** Logs each change in which replicas are behind: the evidence of a stream that stalls with a leader. */
  private noteLagging(streams: Array<{ name: string; replicas: StreamReplicas }>): void {
    const behind = streams.flatMap((s) => s.replicas.followers.filter((f) => !f.current).map((f) => `${s.name}@${f.name}`)).sort().join(',');
    if (behind === this.behind) return;
    this.behind = behind;
    this.log.info({ behind: behind || 'none' }, 'stream replicas that are not current changed');
  }
}

function replicasOf(i: StreamInfo): StreamReplicas {
  return {
    replicas: i.config.num_replicas,
    leader: i.cluster?.leader,
    followers: (i.cluster?.replicas ?? []).map((r) => ({ name: r.name, current: r.current })),
  };
}

/** Probes every `BUS_PROBE_EVERY_MS`, one probe at a time. */
export function startBusWatch(bus: Bus, db: Db, log: Logger, timeoutSeconds: number): { stop(): void; watch: BusWatch } {
  const watch = new BusWatch(bus, db, log, timeoutSeconds);
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await watch.check();
    } finally {
      running = false;
    }
  }, BUS_PROBE_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer), watch };
}
