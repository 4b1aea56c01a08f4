/**
 * The agent's side of a volume migration (contracts in src/bus/contract/migration-messages.ts):
 * - `migration_export` (source): serves the volume's image read-only over NBD with one
 *   qemu-nbd (`serveNbd`) on `FLINT_AGENT_ADDRESS` and a port the OS picks, records the
 *   export (pid, port) under the agent's state directory, and reports the URI;
 * - `migration_import` (destination): copies the export into its pool through the
 *   driver's `importVolume` (temporary name, fsync, `qemu-img compare`, rename) and
 *   reports the verified copy, or the failure with nothing left behind;
 * - `migration_cleanup` (source after the switch or a failure; destination for a stray
 *   copy; any host where a create made an image of a volume that lives elsewhere,
 *   src/gateway/outcomes/stray-images.ts): stops the export, deletes the image when asked.
 * A command that arrives after the migration's deadline (`notAfter`) is refused without
 * touching anything. On start the agent kills the qemu-nbd processes its records name
 * (exports of a previous run: their migrations fail and are retried by hand) and on stop
 * it stops its exports, so no stray qemu-nbd survives the agent.
 */
import type { ProcessGroup } from '../lifecycle/index.js';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../config/index.js';
import { freePort } from '../net/free-port.js';
import {
  MIGRATION_KIND,
  poolId,
  subjects,
  type MigrationCleaned,
  type MigrationCleanup,
  type MigrationCopied,
  type MigrationExport,
  type MigrationExporting,
  type MigrationFailed,
  type MigrationImport,
  type MigrationProgress,
} from '../bus/index.js';
import { DriverError, type VolumeDriver } from './drivers/index.js';
import type { RecordedMessage } from './outcome-store.js';
import { serveNbd, type NbdServer } from './qemu-nbd.js';

/** Tries at binding qemu-nbd to a port the OS said was free (another process may take it in between). @default 3 */
export const EXPORT_PORT_TRIES = 3;

export interface MigrationAgentOptions {
  host: string;
  /** Where other agents reach this one's exports (`FLINT_AGENT_ADDRESS`). */
  address: string;
  drivers: ReadonlyMap<string, VolumeDriver>;
  /** Directory of the export records (`<data>/agent/<host>/migrations`). */
  stateDir: string;
  log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** qemu-nbd binary (tests). */
  qemuNbd?: string;
  /** Owns the qemu-nbd exports: the agent's stop closes it, even while an export starts. */
  processes: ProcessGroup;
  now?: () => Date;
  /** Publishes a progress report on core NATS (fire and forget); none when absent. */
  report?: (subject: string, kind: string, payload: MigrationProgress) => void;
  /** @default PROGRESS_INTERVAL_MS */
  progressIntervalMs?: number;
}

/** How often the copy's progress is reported at most. @default 1_000 */
export const PROGRESS_INTERVAL_MS = 1_000;

interface ExportRecord {
  operationId: string;
  volumeId: string;
  pool: string;
  pid: number;
  port: number;
}

/** Whether a command of a migration whose deadline is `notAfter` comes too late (pure). */
export function pastDeadline(notAfter: string, now: Date): boolean {
  const at = Date.parse(notAfter);
  return !Number.isNaN(at) && now.getTime() > at;
}

/** The NBD export name of a migration (pure). */
export function exportName(volumeId: string): string {
  return `migrate-${volumeId}`;
}

export class MigrationAgent {
  private readonly exports = new Map<string, { server: NbdServer; record: ExportRecord }>();

  constructor(private readonly opts: MigrationAgentOptions) {}

  /** Kills the qemu-nbd processes a previous run left (by their records) and removes the records. */
  async reconcile(): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.opts.stateDir);
    } catch {
      return 0;
    }
    let killed = 0;
    for (const name of names) {
      const path = join(this.opts.stateDir, name);
      if (!name.endsWith('.json')) {
        if (name.endsWith('.pid') || name.includes('.tmp-')) await fs.rm(path, { force: true });
        continue;
      }
      const rec = await readRecord(path);
      if (rec && (await isQemuNbd(rec.pid))) {
        try {
          process.kill(rec.pid, 'SIGTERM');
          killed += 1;
          this.opts.log.warn({ operationId: rec.operationId, volumeId: rec.volumeId, pid: rec.pid }, 'stopped a migration export left by a previous run of this agent');
        } catch {
          // gone meanwhile
        }
      }
      await fs.rm(path, { force: true });
    }
    return killed;
  }

  /** Stops every export of this process (agent shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.exports.keys()].map((id) => this.stopExport(id)));
  }

  async export(p: MigrationExport): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    if (pastDeadline(p.notAfter, this.now())) return this.tooLate(p, 'export');
    const driver = this.opts.drivers.get(p.pool);
    if (!driver) return this.failed(p, 'export', this.unknownPool(p.pool), true);
    try {
      const existing = this.exports.get(p.operationId);
      const server = existing?.server ?? (await this.serve(p, driver));
      log.info({ volumeId: p.volumeId, pool: poolId(host, p.pool), uri: server.uri, to: poolId(p.destination.host, p.destination.pool) }, 'migration: exporting the volume');
      const payload: MigrationExporting = { operationId: p.operationId, volumeId: p.volumeId, host, pool: p.pool, uri: server.uri, destination: p.destination };
      return { subject: subjects.agentEvent(this.opts.host, 'volume', p.volumeId), kind: MIGRATION_KIND.exporting, payload, msgId: `${p.operationId}:migration.exporting` };
    } catch (err) {
      log.error({ err, volumeId: p.volumeId, pool: p.pool }, 'migration: could not export the volume');
      await this.stopExport(p.operationId);
      return this.failed(p, 'export', errorMessage(err), err instanceof DriverError && !err.retryable);
    }
  }

  async import(p: MigrationImport): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    if (pastDeadline(p.notAfter, this.now())) return this.tooLate(p, 'import');
    const driver = this.opts.drivers.get(p.pool);
    if (!driver) return this.failed(p, 'import', this.unknownPool(p.pool), true);
    const started = performance.now();
    // Progress, at most once per interval: what keeps a long copy's deadline moving (src/gateway/sweepers/deadline-extender.ts).
    let lastSent = 0;
    const onProgress = (c: { doneBytes: number; totalBytes: number }) => {
      const now = performance.now();
      if (!this.opts.report || (now - lastSent < (this.opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS) && c.doneBytes < c.totalBytes)) return;
      lastSent = now;
      const report: MigrationProgress = { operationId: p.operationId, volumeId: p.volumeId, doneBytes: c.doneBytes, totalBytes: c.totalBytes, at: this.now().toISOString() };
      this.opts.report(subjects.agentProgress(this.opts.host, 'migration', p.volumeId), MIGRATION_KIND.progress, report);
    };
    try {
      const info = await driver.importVolume(p.volumeId, p.sizeGiB, { uri: p.source.uri, format: 'raw' }, onProgress, p.encryption);
      log.info({ volumeId: p.volumeId, pool: poolId(host, p.pool), from: p.source.uri, ms: Math.round(performance.now() - started) }, 'migration: copy made and verified');
      const payload: MigrationCopied = { operationId: p.operationId, volumeId: p.volumeId, host, pool: p.pool, format: info.format };
      return { subject: subjects.agentEvent(this.opts.host, 'volume', p.volumeId), kind: MIGRATION_KIND.copied, payload, msgId: `${p.operationId}:migration.copied` };
    } catch (err) {
      log.error({ err, volumeId: p.volumeId, pool: p.pool, from: p.source.uri }, 'migration: the copy failed');
      return this.failed(p, 'import', errorMessage(err), err instanceof DriverError && !err.retryable);
    }
  }

  async cleanup(p: MigrationCleanup): Promise<RecordedMessage> {
    const { host, log } = this.opts;
    await this.stopExport(p.migrationOperationId);
    const payload: MigrationCleaned = {
      operationId: p.operationId,
      migrationOperationId: p.migrationOperationId,
      volumeId: p.volumeId,
      host,
      pool: p.pool,
      deletedImage: false,
    };
    if (p.deleteImage) {
      const driver = this.opts.drivers.get(p.pool);
      try {
        if (!driver) throw new DriverError(this.unknownPool(p.pool), { retryable: false });
        await driver.deleteVolume(p.volumeId);
        payload.deletedImage = true;
        log.info({ volumeId: p.volumeId, pool: poolId(host, p.pool) }, 'migration: old image deleted');
      } catch (err) {
        log.error({ err, volumeId: p.volumeId, pool: p.pool }, 'migration: could not delete the old image');
        payload.error = {
          code: 'INTERNAL',
          message: `Volume ${p.volumeId} no longer lives on ${poolId(host, p.pool)} (a migration moved it, or a create ran there twice), but its image there could not be deleted: ${errorMessage(err)}. An operator should delete it by hand; the volume itself is fine.`,
        };
      }
    }
    return { subject: subjects.agentEvent(this.opts.host, 'volume', p.volumeId), kind: MIGRATION_KIND.cleaned, payload, msgId: `${p.operationId}:migration.cleaned` };
  }

  /** Starts qemu-nbd on a free port (a few tries) and records it. */
  private async serve(p: MigrationExport, driver: VolumeDriver): Promise<NbdServer> {
    const image = await driver.imageSource(p.volumeId);
    await fs.mkdir(this.opts.stateDir, { recursive: true });
    let lastError: unknown;
    for (let i = 0; i < EXPORT_PORT_TRIES; i++) {
      const port = await freePort(this.opts.address);
      try {
        const server = await serveNbd({
          image,
          exportName: exportName(p.volumeId),
          listen: { host: this.opts.address, port },
          readOnly: true,
          shared: 4,
          pidFile: join(this.opts.stateDir, `${p.operationId}.pid`),
          ...(this.opts.qemuNbd ? { binary: this.opts.qemuNbd } : {}),
          processes: this.opts.processes,
        });
        const record: ExportRecord = { operationId: p.operationId, volumeId: p.volumeId, pool: p.pool, pid: server.pid, port };
        await writeRecord(this.recordPath(p.operationId), record);
        this.exports.set(p.operationId, { server, record });
        void server.exited.then(() => {
          if (this.exports.get(p.operationId)?.server === server) this.exports.delete(p.operationId);
        });
        return server;
      } catch (err) {
        lastError = err;
        this.opts.log.warn({ err, port }, 'migration: qemu-nbd could not start; trying another port');
      }
    }
    throw lastError;
  }

  private async stopExport(operationId: string): Promise<void> {
    const e = this.exports.get(operationId);
    this.exports.delete(operationId);
    if (e) {
      await e.server.stop();
      this.opts.log.info({ operationId, volumeId: e.record.volumeId }, 'migration: export stopped');
    } else {
      // A record of a previous run that reconcile() did not get to, or nothing at all.
      const rec = await readRecord(this.recordPath(operationId));
      if (rec && (await isQemuNbd(rec.pid))) {
        try {
          process.kill(rec.pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
    }
    await fs.rm(this.recordPath(operationId), { force: true });
  }

  private tooLate(p: MigrationExport | MigrationImport, stage: 'export' | 'import'): RecordedMessage {
    this.opts.log.warn({ operationId: p.operationId, volumeId: p.volumeId, stage, notAfter: p.notAfter }, 'migration command arrived after the migration\'s deadline; refused without touching anything');
    return this.failed(p, stage, 'the migration was given up (its deadline passed) before this agent got to it', false);
  }

  private failed(p: MigrationExport | MigrationImport, stage: 'export' | 'import', reason: string, refused: boolean): RecordedMessage {
    const payload: MigrationFailed = {
      operationId: p.operationId,
      volumeId: p.volumeId,
      host: this.opts.host,
      stage,
      destination: 'destination' in p ? p.destination : { host: this.opts.host, pool: p.pool },
      error: { code: refused ? 'BAD_USER_INPUT' : 'INTERNAL', message: reason },
    };
    return { subject: subjects.agentEvent(this.opts.host, 'volume', p.volumeId), kind: MIGRATION_KIND.failed, payload, msgId: `${p.operationId}:migration.failed:${stage}` };
  }

  private recordPath(operationId: string): string {
    return join(this.opts.stateDir, `${operationId}.json`);
  }

  private unknownPool(pool: string): string {
    const known = [...this.opts.drivers.keys()].join(', ') || 'none';
    return `pool ${pool} is not configured on host ${this.opts.host} (its pools: ${known})`;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }
}

async function readRecord(path: string): Promise<ExportRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(path, 'utf8')) as ExportRecord;
  } catch {
    return undefined;
  }
}

async function writeRecord(path: string, rec: ExportRecord): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const handle = await fs.open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify(rec));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, path);
}

/** Whether `pid` is a running qemu-nbd (so a recycled pid is never killed). */
async function isQemuNbd(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0')[0]?.endsWith('qemu-nbd') === true;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
