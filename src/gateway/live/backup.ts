/**
 * Live backup events for GraphQL subscriptions, beside LiveHub (hub.ts) and in its manner:
 * whoever commits a change of a backup publishes which one on `flint.live.<project>.backup.<id>`
 * (each gateway reads the row from the database, as hub.ts does), and agents publish
 * progress on `flint.progress.agent.<host>.backup.<id>` (core NATS, at most one a second,
 * src/bus/contract/backup-messages.ts). Every gateway follows both and hands them to its
 * `backupChanged`, `backupEvents` and `backupProgress` subscribers. The database stays the truth: a progress
 * report counts only from a host the database has working on that backup (../outcomes/senders.ts).
 */
import type { Subscription as NatsSubscription } from '@nats-io/transport-node';
import {
  BACKUP_KIND,
  backupProgress,
  decodeEnvelope,
  decodePayload,
  encode,
  liveNotice,
  senderOf,
  subjects,
  type BackupProgressReport,
  type BackupView,
  type Bus,
  type LiveBackup,
  type LiveNotice,
} from '../../bus/index.js';
import { findBackup, toBackupView, type Backup, type Db } from '../../db/index.js';
import { SenderCheck } from '../outcomes/senders.js';

export { toBackupView };
import { progressEnded, progressFigures } from '../../domain/backup-states.js';
import type { BackupProgressValue, ListenOptions } from '../../resolvers/ports/index.js';
import { iterate } from './listeners.js';
import { DeliveredVersions } from './catch-up-cursor.js';
import { caughtUpNotice, type CatchUpTarget } from './catch-up.js';


/** How often `backupProgress` repeats the latest figures when no report came. @default 1_000 */
export const PROGRESS_TICK_MS = 1_000;

type Listener<T> = (ev: T) => void;

export class BackupLive {
  private readonly changes = new Set<Listener<LiveBackup>>();
  private readonly progress = new Set<Listener<BackupProgressReport>>();
  private subs: NatsSubscription[] = [];
  private readonly delivered = new DeliveredVersions();

  private readonly senders: SenderCheck;

  constructor(
    private readonly bus: Bus,
    private readonly db: Db,
  ) {
    this.senders = new SenderCheck(db);
  }

  start(onError: (err: unknown) => void): void {
    const follow = (subject: string, handle: (data: Uint8Array, subject: string) => Promise<void>) =>
      this.bus.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return onError(err);
          try {
            handle(msg.data, msg.subject).catch(onError);
          } catch (e) {
            onError(e);
          }
        },
      });
    this.subs = [
      follow(subjects.liveBackupsAll, async (data) => {
        const env = decodeEnvelope(data);
        if (env.kind !== BACKUP_KIND.liveBackup) return;
        await this.deliver(decodePayload(env, liveNotice));
      }),
      follow(subjects.progressOf('backup'), async (data, subject) => {
        const env = decodeEnvelope(data);
        if (env.kind !== BACKUP_KIND.backupProgress || this.progress.size === 0) return;
        const report = decodePayload(env, backupProgress);
        const sender = senderOf(subject);
        if (sender?.role !== 'agent' || !(await this.senders.mayReportBackup(sender.host, report.backupId))) {
          throw new Error(`backup progress for ${report.backupId} on ${subject} ignored: the database has no such backup on that host`);
        }
        for (const l of this.progress) l(report);
      }),
    ];
  }

  /** Reads the backup a notice names and hands it to the subscribers (none: nothing is read). */
  private async deliver(notice: LiveNotice): Promise<void> {
    if (this.changes.size === 0) return;
    const b = await findBackup(this.db.fork(), notice.id);
    if (!b) return;
    const ev: LiveBackup = { type: b.status === 'deleted' ? 'DELETED' : notice.type === 'CREATED' ? 'CREATED' : 'UPDATED', backup: toBackupView(b) };
    for (const l of this.changes) l(ev);
    this.delivered.note(b.projectId, b.id, b.version);
  }

  /** The catch-up's view of this gateway's backup subscribers (catch-up.ts). */
  readonly catchUp: CatchUpTarget = {
    listening: (type) => type === 'backup' && this.changes.size > 0,
    delivered: (_type, projectId, id, version) => this.delivered.has(projectId, id, version),
    deliver: (_type, projectId, change) => this.deliver(caughtUpNotice(projectId, change)),
  };

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.changes.clear();
    this.progress.clear();
  }

  /** Announces a backup that was created or changed (call it after the commit). */
  publish(type: LiveBackup['type'], backup: Backup): void {
    this.bus.nc.publish(subjects.liveBackup(backup.projectId, backup.id), encode(BACKUP_KIND.liveBackup, { id: backup.id, type }));
  }

  /** Every progress report this gateway receives, until the returned function is called (the deadline extender uses it). */
  onProgress(listener: (report: BackupProgressReport) => void): () => void {
    this.progress.add(listener);
    return () => this.progress.delete(listener);
  }

  /** Changes of one backup: `first`, then every newer version, until it is DELETED. */
  listen(backupId: string, accept: (ev: LiveBackup) => boolean, first: LiveBackup): AsyncIterableIterator<LiveBackup> {
    let lastVersion = -1;
    return queue<LiveBackup>(
      (push) => {
        const l: Listener<LiveBackup> = (ev) => {
          if (ev.backup.id === backupId && accept(ev) && ev.backup.version > lastVersion) {
            lastVersion = ev.backup.version;
            push(ev, ev.type === 'DELETED');
          }
        };
        this.changes.add(l);
        lastVersion = first.backup.version;
        push(first, first.type === 'DELETED');
        return () => this.changes.delete(l);
      },
    );
  }

  /**
   * Changes of every backup that pass `accept` (`backupEvents`), like LiveHub's `listen` for
   * volumes: stale versions are skipped, and `opts.replay` holds live events behind a replay.
   */
  listenAll(accept: (ev: LiveBackup) => boolean, opts: ListenOptions<LiveBackup> = {}): AsyncIterableIterator<LiveBackup> {
    return iterate(this.changes, accept, {
      ...opts,
      key: (ev) => ev.backup.id,
      isStale: (ev, last) => ev.backup.version <= last.backup.version,
    });
  }

  /**
   * Progress of one backup's running work: a value at least every `tickMs` (the latest
   * report, repeated when none came), and a last one when the backup leaves CREATING or
   * RESTORING; then the iterator ends. `current` is the row as read when subscribing.
   */
  listenProgress(current: BackupView, accept: (ev: LiveBackup) => boolean, tickMs = PROGRESS_TICK_MS): AsyncIterableIterator<BackupProgressValue> {
    let status = current.status;
    let phase: 'backup' | 'restore' = current.status === 'restoring' ? 'restore' : 'backup';
    let report: BackupProgressReport | undefined;
    const figures = (): BackupProgressValue => {
      const total = report?.totalBytes ?? current.progressTotalBytes ?? current.sizeBytes ?? 0;
      const done = progressEnded(status) && status === 'available' && phase === 'backup' ? total : (report?.doneBytes ?? current.progressDoneBytes ?? 0);
      const now = report ? Date.parse(report.at) : Date.now();
      const start = report ? Date.parse(report.startedAt) : now;
      const f = progressFigures({ doneBytes: 0, totalBytes: total, at: start }, { doneBytes: done, totalBytes: total, at: now });
      return { backupId: current.id, status, phase, doneBytes: done, totalBytes: total, percent: f.percent, bytesPerSecond: f.bytesPerSecond, at: new Date(now) };
    };
    return queue<BackupProgressValue>((push) => {
      if (progressEnded(status)) {
        push(figures(), true);
        return () => undefined;
      }
      const onReport: Listener<BackupProgressReport> = (r) => {
        if (r.backupId !== current.id || r.phase === 'verify') return;
        report = r;
        phase = r.phase;
        push(figures(), false);
      };
      const onChange: Listener<LiveBackup> = (ev) => {
        if (ev.backup.id !== current.id || !accept(ev)) return;
        status = ev.backup.status;
        if (progressEnded(status)) {
          if (ev.backup.progressTotalBytes !== null && phase === 'backup') report = undefined;
          current = ev.backup;
          push(figures(), true);
        }
      };
      this.progress.add(onReport);
      this.changes.add(onChange);
      push(figures(), false);
      const timer = setInterval(() => push(figures(), false), tickMs);
      timer.unref();
      return () => {
        clearInterval(timer);
        this.progress.delete(onReport);
        this.changes.delete(onChange);
      };
    });
  }
}

/**
 * A bounded single-consumer queue as an async iterator. `setup(push)` starts the feed and
 * returns its teardown; `push(value, last)` with `last` ends the iteration after that value.
 */
function queue<T>(setup: (push: (v: T, last: boolean) => void) => () => void, max = 1000): AsyncIterableIterator<T> {
  const items: T[] = [];
  let ending = false;
  let done = false;
  let wake: (() => void) | undefined;
  const cleanup: { teardown?: () => void } = {};
  const finish = () => {
    if (done) return;
    done = true;
    cleanup.teardown?.();
    wake?.();
  };
  const push = (v: T, last: boolean) => {
    if (ending || done) return;
    items.push(v);
    if (items.length > max) items.shift();
    if (last) ending = true;
    wake?.();
  };
  cleanup.teardown = setup(push);
  if (done) cleanup.teardown();
  const it: AsyncIterableIterator<T> = {
    next: async () => {
      while (items.length === 0 && !done && !ending) await new Promise<void>((r) => (wake = r));
      const v = items.shift();
      if (v === undefined) {
        finish();
        return { done: true, value: undefined };
      }
      if (ending && items.length === 0) finish();
      return { done: false, value: v };
    },
    return: async () => {
      finish();
      items.length = 0;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
