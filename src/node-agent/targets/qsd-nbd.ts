/**
 * A qcow2 image served over NBD by qemu-storage-daemon instead of qemu-nbd: the same export
 * name, listener, read-only behaviour and TLS as `serveNbd` (`../qemu-nbd.ts`), plus a QMP
 * monitor, through which the internal snapshots of the image are taken and removed while the
 * export keeps running (qemu-nbd holds the image's write lock and has no monitor).
 *
 * An encrypted volume (qcow2 or a raw LUKS container) is served by the daemon too, its key in a
 * `secret` object: clients read and write plaintext.
 *
 * The image's nodes are always opened writable (a snapshot writes the qcow2 metadata); a
 * read-only attachment's export is `writable=off`, so a client's write is refused.
 */
import type { ProcessGroup } from '../../lifecycle/index.js';
import { DriverError, formatBlockdev, protocolNode, secretObjectArgs, withSecretFiles, type ImageSource } from '../drivers/index.js';
import { NBD_TLS_OBJECT_ID, nbdUri, type NbdServer } from '../qemu-nbd.js';
import { qmpMonitorArgs, startQsd } from './qsd-process.js';

/** Node name of the image's format layer in the daemon (QMP commands name it). */
export const QSD_NBD_NODE = 'disk0';

export interface QsdNbdOptions {
  /** A qcow2 or encrypted image (not one of its internal snapshots: those are served by qemu-nbd). */
  image: ImageSource;
  exportName: string;
  listen: { host: string; port: number };
  readOnly: boolean;
  pidFile: string;
  qmpSocket: string;
  /** As `NbdServeOptions.tls`. */
  tls?: { dir: string; verifyPeer?: boolean };
  /** Clients at once. @default 8, as qemu-nbd's `--shared` */
  maxConnections?: number;
  /** @default DEFAULT_QSD */
  binary?: string;
  /** Owns the daemon: closing the group stops it, even while it is starting. */
  processes: ProcessGroup;
}

export interface QsdNbdServer extends NbdServer {
  /** The daemon's QMP monitor (unix socket). */
  readonly qmpSocket: string;
}

/** The qemu-storage-daemon arguments (pure; exported for unit tests). Options are processed in order: the TLS object before the server that names it. */
export function qsdNbdArgs(opts: Omit<QsdNbdOptions, 'processes'>, secretFile?: string): string[] {
  const { image } = opts;
  // JSON syntax: a path or name with a comma would break the key=value syntax. Writable exports
  // bypass the host page cache and pass discards on, as qemu-nbd's `--cache=none --discard=unmap`.
  const direct = !opts.readOnly;
  const file = protocolNode(image, { 'node-name': 'file0', 'read-only': false, cache: { direct }, discard: 'unmap' });
  const fmt = formatBlockdev(image.format, secretFile !== undefined, { 'node-name': QSD_NBD_NODE, file: 'file0', 'read-only': false, cache: { direct }, discard: 'unmap' });
  const args: string[] = [...(secretFile ? secretObjectArgs(secretFile) : []), '--blockdev', JSON.stringify(file), '--blockdev', JSON.stringify(fmt)];
  const server: Record<string, unknown> = {
    addr: { type: 'inet', host: opts.listen.host, port: String(opts.listen.port) },
    'max-connections': opts.maxConnections ?? 8,
  };
  if (opts.tls) {
    // QemuOpts syntax: a comma in a value is written twice.
    const dir = opts.tls.dir.replaceAll(',', ',,');
    args.push('--object', `tls-creds-x509,id=${NBD_TLS_OBJECT_ID},dir=${dir},endpoint=server,verify-peer=${opts.tls.verifyPeer ? 'on' : 'off'}`);
    server['tls-creds'] = NBD_TLS_OBJECT_ID;
  }
  args.push('--nbd-server', JSON.stringify(server));
  args.push('--export', JSON.stringify({ type: 'nbd', id: 'export0', 'node-name': QSD_NBD_NODE, name: opts.exportName, writable: !opts.readOnly }));
  args.push('--pidfile', opts.pidFile, ...qmpMonitorArgs(opts.qmpSocket));
  return args;
}

/**
 * Starts the daemon and resolves once it serves the export (its pid file is written after the
 * NBD server is bound). @throws DriverError when the image is not a plain qcow2 volume, or the
 * daemon exits early (e.g. the port is taken: "Address already in use" is in the message).
 */
export async function serveQcow2Nbd(opts: QsdNbdOptions): Promise<QsdNbdServer> {
  if ((opts.image.format !== 'qcow2' && opts.image.key === undefined) || opts.image.snapshotName !== undefined) {
    throw new DriverError(`qemu-storage-daemon serves a qcow2 or encrypted volume over NBD, not ${opts.image.path} (${opts.image.format}${opts.image.snapshotName ? `, snapshot ${opts.image.snapshotName}` : ''}); use qemu-nbd`, { retryable: false });
  }
  // The daemon reads the key file while it starts: the file is gone once it serves.
  const daemon = await withSecretFiles([opts.image.key], ([secretFile]) =>
    startQsd({
      args: qsdNbdArgs(opts, secretFile),
      pidFile: opts.pidFile,
      qmpSocket: opts.qmpSocket,
      what: `serve ${opts.image.path} over NBD on ${opts.listen.host}:${opts.listen.port}`,
      processes: opts.processes,
      ...(opts.binary ? { binary: opts.binary } : {}),
    }),
  );
  return {
    uri: nbdUri(opts.listen, opts.exportName, opts.tls !== undefined),
    pid: daemon.pid,
    qmpSocket: daemon.qmpSocket,
    exited: daemon.exited,
    stop: () => daemon.stop(),
  };
}
