/**
 * The `nbd` target: one server process per attachment, listening on the agent's address and
 * a free port of `nbdPortRange`, export name = attachment id. A qcow2 volume is served by
 * qemu-storage-daemon (see `qsd-nbd.ts`), whose QMP monitor takes and removes the image's
 * internal snapshots while the export keeps running; a raw image (and a qcow2 internal
 * snapshot) by qemu-nbd (see `../qemu-nbd.ts`). `ro` attachments are served read-only (a
 * write fails at the client). Growing the image needs a restart of the server on the same
 * port (the server holds the image's write lock, so `qemu-img resize` cannot run beside it);
 * clients connected at that moment are dropped and must reconnect.
 *
 * With `nbdTls` every export requires TLS (the x509 credentials object and `tls-creds` on
 * both servers): a plain client is refused in the handshake, and the connection says
 * `nbds://` with the CA certificate clients need.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, needsQemuView } from '../drivers/index.js';
import { nbdUri, serveNbd, type NbdServer } from '../qemu-nbd.js';
import type { ConnectionData, ExportRequest, NbdConnection, Target, TargetOptions } from './target.js';
import { SerialQueue } from './serial-queue.js';
import { commandOf, portIsFree } from './proc-util.js';
import { qmpExecute, QmpError } from './qmp.js';
import { QSD_NBD_NODE, serveQcow2Nbd, type QsdNbdServer } from './qsd-nbd.js';

interface NbdExport {
  req: ExportRequest;
  port: number;
  server: NbdServer | QsdNbdServer;
  dead: boolean;
}

export class NbdTarget implements Target {
  readonly kind = 'nbd' as const;
  private readonly exports = new Map<string, NbdExport>();
  private readonly queue = new SerialQueue();
  private readonly dir: string;
  /** Set by shutdown(): a late export (a reconcile still in flight) must not start a server. */
  private stopped = false;

  constructor(private readonly opts: TargetOptions) {
    this.dir = join(opts.stateDir, 'nbd');
    const [lo, hi] = opts.nbdPortRange;
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo > 0 && hi <= 65535 && lo <= hi)) {
      throw new DriverError(`nbd target: nbdPortRange [${lo}, ${hi}] is not a valid port range`, { retryable: false });
    }
  }

  /** Creates its state dir and stops the servers a killed agent left (by their pid files). The binaries are checked by the first export. */
  setup(): Promise<void> {
    return this.queue.run(async () => {
      this.stopped = false;
      await fs.mkdir(this.dir, { recursive: true });
      if (this.exports.size > 0) return;
      for (const name of await fs.readdir(this.dir)) {
        if (!name.endsWith('.pid')) continue;
        const file = join(this.dir, name);
        const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
        if (Number.isInteger(pid) && pid > 1 && (await commandOf(pid)).includes(file)) {
          process.kill(pid, 'SIGTERM');
          for (let i = 0; i < 100 && (await commandOf(pid)) !== ''; i++) await sleep(50);
        }
        await fs.rm(file, { force: true });
        await fs.rm(file.replace(/\.pid$/, '.qmp'), { force: true });
      }
    });
  }

  export(req: ExportRequest): Promise<ConnectionData> {
    return this.queue.run(() => this.ensure(req));
  }

  unexport(attachmentId: string): Promise<void> {
    return this.queue.run(() => this.remove(attachmentId));
  }

  refreshSize(attachmentId: string): Promise<void> {
    return this.queue.run(() => this.regrow(attachmentId, () => Promise.resolve()));
  }

  growWhileExported<T>(attachmentId: string, grow: () => Promise<T>): Promise<T> {
    return this.queue.run(() => this.regrow(attachmentId, grow));
  }

  /** Through the QMP monitor of the qemu-storage-daemon that serves `imagePath` (a qcow2 volume); false when none does. */
  internalSnapshot(imagePath: string, tag: string, action: 'create' | 'delete'): Promise<boolean> {
    return this.queue.run(async () => {
      const entry = [...this.exports.values()].find((e) => !e.dead && 'qmpSocket' in e.server && e.req.image.path === imagePath);
      if (!entry || !('qmpSocket' in entry.server)) return false;
      const command = action === 'create' ? 'blockdev-snapshot-internal-sync' : 'blockdev-snapshot-delete-internal-sync';
      try {
        await qmpExecute(entry.server.qmpSocket, command, { device: QSD_NBD_NODE, name: tag });
      } catch (err) {
        // Idempotent: taken already (a redelivered command), or gone already.
        const done = err instanceof QmpError && (action === 'create' ? /already exists/i : /does not exist|not found/i).test(err.desc);
        if (!done) throw err;
      }
      return true;
    });
  }

  list(): Promise<string[]> {
    return this.queue.run(() => Promise.resolve([...this.exports.entries()].filter(([, e]) => !e.dead).map(([id]) => id)));
  }

  reconcile(wanted: readonly ExportRequest[]): Promise<void> {
    return this.queue.run(async () => {
      const ids = new Set(wanted.map((w) => w.attachmentId));
      for (const id of [...this.exports.keys()]) if (!ids.has(id)) await this.remove(id);
      const errors: unknown[] = [];
      for (const req of wanted) await this.ensure(req).catch((err: unknown) => errors.push(err));
      if (errors.length > 0) throw new DriverError(`nbd target: ${errors.length} of ${wanted.length} exports could not be restored: ${errors.map(String).join('; ')}`, { cause: errors[0] });
    });
  }

  shutdown(): Promise<void> {
    return this.queue.run(async () => {
      this.stopped = true;
      for (const id of [...this.exports.keys()]) await this.remove(id);
    });
  }

  private async ensure(req: ExportRequest): Promise<NbdConnection> {
    const current = this.exports.get(req.attachmentId);
    if (current && !current.dead && sameExport(current.req, req)) return this.connection(req, current.port);
    const port = current?.port;
    if (current) await this.remove(req.attachmentId);
    return this.start(req, port);
  }

  /** Serves `req`, on `preferredPort` when given and free, else on the first free port of the range. */
  private async start(req: ExportRequest, preferredPort?: number): Promise<NbdConnection> {
    if (this.stopped) throw new DriverError('nbd target: shut down; the agent is stopping');
    const [lo, hi] = this.opts.nbdPortRange;
    const used = new Set([...this.exports.values()].map((e) => e.port));
    const candidates = preferredPort === undefined ? [] : [preferredPort];
    for (let p = lo; p <= hi; p++) if (!used.has(p) && p !== preferredPort) candidates.push(p);
    let lastError: unknown;
    for (const port of candidates) {
      if (!(await portIsFree(this.opts.address, port))) continue;
      try {
        const common = {
          image: req.image,
          exportName: req.attachmentId,
          listen: { host: this.opts.address, port },
          readOnly: req.mode === 'ro',
          pidFile: join(this.dir, `${port}.pid`),
          ...(this.opts.nbdTls ? { tls: { dir: this.opts.nbdTls.dir, verifyPeer: this.opts.nbdTls.verifyClients } } : {}),
          processes: this.opts.processes,
        };
        const server = servedByDaemon(req) ? await serveQcow2Nbd({ ...common, qmpSocket: join(this.dir, `${port}.qmp`) }) : await serveNbd(common);
        const entry: NbdExport = { req, port, server, dead: false };
        void server.exited.then(() => {
          entry.dead = true;
        });
        this.exports.set(req.attachmentId, entry);
        return this.connection(req, port);
      } catch (err) {
        lastError = err;
        // Another process took the port between the probe and the bind: try the next one.
        if (!/in use/i.test(String((err as Error).message))) throw err;
      }
    }
    throw new DriverError(`nbd target: no free port in ${lo}-${hi} on ${this.opts.address}; widen the NBD port range`, { cause: lastError });
  }

  /** The server holds the image's write lock and reads its size once: stop it, run `grow`, serve again on the same port. */
  private async regrow<T>(attachmentId: string, grow: () => Promise<T>): Promise<T> {
    const current = this.exports.get(attachmentId);
    if (!current) return grow();
    await current.server.stop();
    this.exports.delete(attachmentId);
    try {
      return await grow();
    } finally {
      await this.start(current.req, current.port);
    }
  }

  private async remove(attachmentId: string): Promise<void> {
    const current = this.exports.get(attachmentId);
    if (!current) return;
    await current.server.stop();
    this.exports.delete(attachmentId);
  }

  private connection(req: ExportRequest, port: number): NbdConnection {
    const host = this.opts.address;
    const tls = this.opts.nbdTls;
    const uri = nbdUri({ host, port }, req.attachmentId, tls !== undefined);
    const connection: NbdConnection = { driverVolumeType: 'nbd', host, port, exportName: req.attachmentId, accessMode: req.mode, uri };
    if (tls) connection.tls = { caCertificate: tls.caCertificate, clientCertificateRequired: tls.verifyClients };
    return connection;
  }
}

/** A qcow2 or encrypted volume (not one of its internal snapshots) is served by qemu-storage-daemon, for its QMP monitor and its secrets. */
function servedByDaemon(req: ExportRequest): boolean {
  return needsQemuView(req.image) && req.image.snapshotName === undefined;
}

function sameExport(a: ExportRequest, b: ExportRequest): boolean {
  return a.mode === b.mode && a.image.path === b.image.path && a.image.format === b.image.format && a.image.snapshotName === b.image.snapshotName && a.image.key === b.image.key;
}
