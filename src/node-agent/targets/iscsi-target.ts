/**
 * The `iscsi` target over tgt: one tgtd of its own (see `tgtd-process.ts`), one iSCSI target
 * per attachment, IQN `iqn.2026-11.io.flint:<host>:<attachmentId>`, the volume as LUN 1, a
 * CHAP account (per attachment) bound to it, and an initiator-name ACL from the connector
 * (every initiator when the request names none). `ro` makes the LUN read-only (qemu and
 * libiscsi see the write-protect bit; a write is refused).
 *
 * Backing stores: a raw image is the backing file itself (bstype rdwr); an RBD image is served
 * by tgt's rbd backing store straight from Ceph (bstype rbd, `tgt-backing.ts`); tgt cannot read
 * qcow2 or LUKS, so a qcow2 or encrypted image is shown as a raw file of plaintext by a
 * qemu-storage-daemon FUSE export under
 * `<stateDir>/iscsi/fuse/` (see `fuse-export.ts`). One daemon per image, shared by all its
 * attachments (a second daemon could not take the image's lock: multiattach), always
 * writable; a read-only attachment is made read-only by its LUN.
 *
 * tgtd keeps its state in memory only. When our tgtd dies the target restarts it and
 * re-creates every export it knows; `reconcile` does the same from the agent's list and
 * removes whatever it does not list. A tgtd or daemon left by a killed agent is stopped in
 * `setup()` (pid files under the state dir).
 *
 * Teardown while an initiator is logged in, in the order tgt requires: target state
 * offline (no new logins) → delete its connections → delete the LUN → delete the target →
 * delete its CHAP account. The tgtadm steps are in `tgt-admin.ts`; what the target
 * remembers of an export, and the checks that it still matches, in `iscsi-export.ts`.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DriverError, needsQemuView } from '../drivers/index.js';
import { clearStaleMount, FUSE_NODE, fuseMountsUnder, startFuseExport, stopStaleDaemon, type FuseExport } from './fuse-export.js';
import { isComplete, sameExport, type IscsiExport } from './iscsi-export.js';
import { qmpExecute, QmpError } from './qmp.js';
import { SerialQueue } from './serial-queue.js';
import type { ConnectionData, ExportRequest, IscsiConnection, Target, TargetOptions } from './target.js';
import { TgtAdmin } from './tgt-admin.js';
import { parseAccounts, type TgtTarget } from './tgtadm.js';
import { commandOf } from './proc-util.js';
import { portalText, startTgtd, stopStaleTgtd, type Tgtd } from './tgtd-process.js';
import { iqnPrefix, targetIqn, validateExportRequest } from './iscsi-names.js';
import { confWithKeyring, thinProvisioned } from './tgt-backing.js';

export class IscsiTarget implements Target {
  readonly kind = 'iscsi' as const;
  private daemon: Tgtd | undefined;
  /** tgtadm operations on `daemon`. */
  private readonly tgt = new TgtAdmin(() => this.daemon);
  private readonly exports = new Map<string, IscsiExport>();
  /** FUSE exports of qcow2 images, by image path. */
  private readonly fuses = new Map<string, FuseExport>();
  private readonly queue = new SerialQueue();
  private stopping = false;
  private readonly dir: string;
  private readonly fuseDir: string;
  /** The last failure of an automatic restore after tgtd died (the next call retries). */
  lastRestoreError: unknown;

  constructor(private readonly opts: TargetOptions) {
    this.dir = join(opts.stateDir, 'iscsi');
    this.fuseDir = join(this.dir, 'fuse');
  }

  /** The tgtd control port (for tools and tests); undefined before setup. */
  get controlPort(): number | undefined {
    return this.daemon?.controlPort;
  }
  /** The tgtd pid; undefined before setup. */
  get tgtdPid(): number | undefined {
    return this.daemon?.pid;
  }

  setup(): Promise<void> {
    return this.queue.run(async () => {
      this.stopping = false;
      await fs.mkdir(this.fuseDir, { recursive: true });
      if (!this.daemon) {
        await stopStaleTgtd(join(this.dir, 'tgtd.pid'), portalText(this.opts.address, this.opts.iscsiPort));
        await this.clearStaleFuse(new Set());
      }
      await this.ensureDaemon();
    });
  }

  export(req: ExportRequest): Promise<ConnectionData> {
    return this.queue.run(async () => {
      validateExportRequest(req);
      await this.ensureDaemon();
      return this.ensure(req, await this.tgt.show());
    });
  }

  unexport(attachmentId: string): Promise<void> {
    return this.queue.run(async () => {
      await this.ensureDaemon();
      await this.remove(attachmentId, await this.tgt.show());
    });
  }

  refreshSize(attachmentId: string): Promise<void> {
    return this.queue.run(() => this.regrow(attachmentId, () => Promise.resolve()));
  }

  growWhileExported<T>(attachmentId: string, grow: () => Promise<T>): Promise<T> {
    return this.queue.run(() => this.regrow(attachmentId, grow));
  }

  internalSnapshot(imagePath: string, tag: string, action: 'create' | 'delete'): Promise<boolean> {
    return this.queue.run(async () => {
      const fuse = this.fuses.get(imagePath);
      if (!fuse?.alive) return false;
      const command = action === 'create' ? 'blockdev-snapshot-internal-sync' : 'blockdev-snapshot-delete-internal-sync';
      try {
        await qmpExecute(fuse.qmpSocket, command, { device: FUSE_NODE, name: tag });
      } catch (err) {
        // Idempotent: taken already (a redelivered command), or gone already.
        const done = err instanceof QmpError && (action === 'create' ? /already exists/i : /does not exist|not found/i).test(err.desc);
        if (!done) throw err;
      }
      return true;
    });
  }

  list(): Promise<string[]> {
    return this.queue.run(async () => {
      await this.ensureDaemon();
      return (await this.tgt.show()).map((t) => this.attachmentOf(t.iqn)).filter((id): id is string => id !== undefined);
    });
  }

  reconcile(wanted: readonly ExportRequest[]): Promise<void> {
    return this.queue.run(async () => {
      await this.ensureDaemon();
      const wantedIqns = new Set(wanted.map((w) => this.iqn(w.attachmentId)));
      let targets = await this.tgt.show();
      for (const t of targets) if (!wantedIqns.has(t.iqn)) await this.tgt.teardown(t);
      for (const [id, e] of [...this.exports]) {
        if (!wantedIqns.has(e.iqn)) {
          this.exports.delete(id);
          await this.releaseFuse(e.req.image.path);
        }
      }
      targets = await this.tgt.show();
      await this.clearStaleFuse(new Set([...this.fuses.values()].filter((f) => f.alive).map((f) => f.mountpoint)));
      const errors: unknown[] = [];
      // One bad or failing request does not keep the others down.
      for (const req of wanted) {
        await Promise.resolve()
          .then(() => validateExportRequest(req))
          .then(() => this.ensure(req, targets))
          .catch((err: unknown) => errors.push(err));
      }
      // Accounts no target uses (left by a failed export).
      const bound = new Set((await this.tgt.show()).flatMap((t) => t.accounts));
      for (const user of parseAccounts(await this.tgt.adm(['--op', 'show', '--mode', 'account']))) {
        if (!bound.has(user)) await this.tgt.ignoreNotFound(['--op', 'delete', '--mode', 'account', '--user', user]);
      }
      if (errors.length > 0) {
        throw new DriverError(`iscsi target: ${errors.length} of ${wanted.length} exports could not be restored: ${errors.map((e) => (e as Error).message).join('; ')}`, { cause: errors[0] });
      }
    });
  }

  shutdown(): Promise<void> {
    return this.queue.run(async () => {
      this.stopping = true;
      const daemon = this.daemon;
      // tgtd and the daemons are stopped even when the orderly teardown fails (a tgtadm error):
      // a shutdown that gave up half-way left a tgtd nobody would stop.
      try {
        if (daemon?.alive) for (const t of await this.tgt.show()) await this.tgt.teardown(t);
      } finally {
        this.exports.clear();
        try {
          for (const path of [...this.fuses.keys()]) await this.releaseFuse(path).catch(() => undefined);
        } finally {
          await daemon?.stop();
          this.daemon = undefined;
        }
      }
      await this.clearStaleFuse(new Set());
    });
  }

  // --- internals (run inside the queue) ---

  private iqn(attachmentId: string): string {
    return targetIqn(this.opts.host, attachmentId);
  }

  private attachmentOf(iqn: string): string | undefined {
    for (const [id, e] of this.exports) if (e.iqn === iqn) return id;
    const prefix = iqnPrefix(this.opts.host);
    return iqn.startsWith(prefix) ? iqn.slice(prefix.length) : undefined;
  }

  private connection(req: ExportRequest): IscsiConnection {
    return {
      driverVolumeType: 'iscsi',
      targetIqn: this.iqn(req.attachmentId),
      targetPortal: portalText(this.opts.address, this.opts.iscsiPort),
      targetLun: 1,
      accessMode: req.mode,
      discard: thinProvisioned(req.image, req.mode),
    };
  }

  /** Starts tgtd when it is not running; after a restart re-creates every export we know. */
  private async ensureDaemon(): Promise<void> {
    // After shutdown() a late call (a reconcile still in flight) must not bring tgtd back.
    if (this.stopping) throw new DriverError('iscsi target: shut down; the agent is stopping');
    // `alive` flips when Node sees the exit; a killed tgtd is a zombie before that.
    if (this.daemon?.alive && (await commandOf(this.daemon.pid)) !== '') return;
    const restarted = this.daemon !== undefined;
    await this.daemon?.stop();
    await fs.mkdir(this.fuseDir, { recursive: true });
    const daemon = await startTgtd({ address: this.opts.address, port: this.opts.iscsiPort, pidFile: join(this.dir, 'tgtd.pid'), processes: this.opts.processes });
    this.daemon = daemon;
    void daemon.exited.then(() => {
      if (this.stopping || this.daemon !== daemon) return;
      // tgtd died: bring it and the exports back without waiting for the agent's reconcile.
      this.queue.run(() => (this.stopping ? Promise.resolve() : this.ensureDaemon())).catch((err: unknown) => (this.lastRestoreError = err));
    });
    if (restarted) {
      const targets = await this.tgt.show();
      const errors: unknown[] = [];
      for (const e of [...this.exports.values()]) await this.ensure(e.req, targets).catch((err: unknown) => errors.push(err));
      this.lastRestoreError = errors[0];
    }
  }

  /** Makes the export of `req` exist exactly as asked; `targets` is tgtd's current list. */
  private async ensure(req: ExportRequest, targets: readonly TgtTarget[]): Promise<IscsiConnection> {
    const iqn = this.iqn(req.attachmentId);
    const existing = targets.find((t) => t.iqn === iqn);
    const known = this.exports.get(req.attachmentId);
    if (existing && known && sameExport(known.req, req) && isComplete(existing, known, req)) return this.connection(req);
    if (existing) await this.tgt.teardown(existing);
    this.exports.delete(req.attachmentId);
    if (known && known.req.image.path !== req.image.path) await this.releaseFuse(known.req.image.path);
    if (req.image.format === 'raw' && req.image.snapshotName !== undefined) {
      throw new DriverError('a raw image has no internal snapshots to export', { retryable: false });
    }
    try {
      const fuse = needsQemuView(req.image) ? await this.acquireFuse(req) : undefined;
      const entry: IscsiExport = { req, iqn, fuse, rbdConf: fuse ? undefined : await this.rbdConf(req) };
      await this.tgt.createTarget(entry, targets);
      this.exports.set(req.attachmentId, entry);
      return this.connection(req);
    } catch (err) {
      await this.releaseFuse(req.image.path);
      throw err;
    }
  }

  /**
   * The ceph.conf tgt reads for an RBD image whose pool names a keyring: tgt's rbd backing store
   * takes no keyring option, so the target keeps a copy of the pool's conf that adds it
   * (`<stateDir>/iscsi/ceph/`, rewritten for every export: the pool's conf may have changed).
   */
  private async rbdConf(req: ExportRequest): Promise<string | undefined> {
    const rbd = req.image.rbd;
    if (!rbd?.keyring) return undefined;
    const dir = join(this.dir, 'ceph');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `${createHash('sha256').update(`${rbd.conf}\0${rbd.user}\0${rbd.keyring}`).digest('hex').slice(0, 24)}.conf`);
    const conf = await fs.readFile(rbd.conf, 'utf8').catch((err: unknown) => {
      throw new DriverError(`iscsi target: cannot read the ceph.conf ${rbd.conf} of the rbd pool: ${(err as Error).message}`, { cause: err });
    });
    await fs.writeFile(`${file}.tmp`, confWithKeyring(conf, rbd.user, rbd.keyring), { mode: 0o600 });
    await fs.rename(`${file}.tmp`, file);
    return file;
  }

  /** The live FUSE export of a qcow2 image, started when there is none. */
  private async acquireFuse(req: ExportRequest): Promise<FuseExport> {
    const current = this.fuses.get(req.image.path);
    if (current?.alive) return current;
    if (current) await this.stopFuse(req.image.path);
    const mountpoint = join(this.fuseDir, `${createHash('sha256').update(req.image.path).digest('hex').slice(0, 24)}.img`);
    const fuse = await startFuseExport(req.image, mountpoint, true, this.opts.processes);
    this.fuses.set(req.image.path, fuse);
    const sharing = [...this.exports.values()].filter((e) => e.req.image.path === req.image.path);
    for (const e of sharing) e.fuse = fuse;
    if (current && sharing.length > 0) {
      // The daemon had died: LUNs of other attachments still point at the dead mount.
      const targets = await this.tgt.show();
      for (const e of sharing) {
        const t = targets.find((x) => x.iqn === e.iqn);
        if (!t) continue;
        await this.tgt.ignoreNotFound(['--op', 'delete', '--mode', 'logicalunit', '--tid', String(t.tid), '--lun', '1']);
        await this.tgt.addLun(t.tid, e);
      }
    }
    return fuse;
  }

  /** Stops the FUSE export of `path` when no export uses it any more. */
  private async releaseFuse(path: string): Promise<void> {
    if ([...this.exports.values()].some((e) => e.req.image.path === path)) return;
    await this.stopFuse(path);
  }

  private async stopFuse(path: string): Promise<void> {
    const fuse = this.fuses.get(path);
    this.fuses.delete(path);
    await fuse?.stop();
  }

  private async remove(attachmentId: string, targets: readonly TgtTarget[]): Promise<void> {
    const iqn = this.iqn(attachmentId);
    const t = targets.find((x) => x.iqn === iqn);
    if (t) await this.tgt.teardown(t);
    const known = this.exports.get(attachmentId);
    this.exports.delete(attachmentId);
    if (known) await this.releaseFuse(known.req.image.path);
  }

  /**
   * Re-adds LUN 1 so initiators see the image's current size. For a qcow2 image the FUSE
   * daemon holds the image's write lock, so the LUNs of every attachment of that image are
   * removed and the daemon stopped while `grow` runs, then all are made again; a raw image
   * is grown in place.
   */
  private async regrow<T>(attachmentId: string, grow: () => Promise<T>): Promise<T> {
    await this.ensureDaemon();
    const entry = this.exports.get(attachmentId);
    if (!entry) return grow();
    const path = entry.req.image.path;
    const targets = await this.tgt.show();
    const sharing = [...this.exports.values()].filter((e) => e.req.image.path === path);
    const luns = sharing.flatMap((e) => {
      const t = targets.find((x) => x.iqn === e.iqn);
      return t ? [{ e, tid: t.tid }] : [];
    });
    for (const { tid } of luns) await this.tgt.ignoreNotFound(['--op', 'delete', '--mode', 'logicalunit', '--tid', String(tid), '--lun', '1']);
    let result: T;
    try {
      await this.stopFuse(path);
      result = await grow();
    } finally {
      if (needsQemuView(entry.req.image)) await this.acquireFuse(entry.req);
      for (const { e, tid } of luns) await this.tgt.addLun(tid, e);
    }
    return result;
  }

  /** Stops FUSE daemons and unmounts mounts under our fuse dir that are not in `keep`. */
  private async clearStaleFuse(keep: ReadonlySet<string>): Promise<void> {
    const files = await fs.readdir(this.fuseDir).catch(() => [] as string[]);
    const mountpoints = new Set([...files.filter((f) => f.endsWith('.img')).map((f) => join(this.fuseDir, f)), ...(await fuseMountsUnder(this.fuseDir))]);
    for (const m of mountpoints) {
      if (keep.has(m)) continue;
      await stopStaleDaemon(m);
      await clearStaleMount(m);
      await fs.rm(m, { force: true });
    }
  }
}

