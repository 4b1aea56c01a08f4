/**
 * One qemu-nbd process serving one image over NBD (TCP or a unix socket), with no kernel
 * module: the building block of NBD attachments, of migration between agents (the
 * destination reads the source's export) and of reads of a snapshot's bytes.
 *
 * `-t` keeps the server up after a client leaves; `--shared` allows that many clients at
 * once; `-r` serves read-only (a write fails at the client); `-l snapshot.name=…` serves a
 * qcow2 internal snapshot (always read-only). The server is ready when it has written its
 * pid file, which qemu-nbd does after it has bound its socket: a port some other process
 * holds is an early exit, not a false "ready". An encrypted image (`image.key`) is opened with
 * its key in a `secret` object: clients see plaintext.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Daemon, ProcessGroup } from '../lifecycle/index.js';
import { DriverError, imageOptsString, secretObjectArgs, withSecretFiles, type ImageSource } from './drivers/index.js';

export const DEFAULT_QEMU_NBD = 'qemu-nbd';

export interface NbdServeOptions {
  /** The image (and snapshot) to serve. */
  image: ImageSource;
  /** NBD export name clients ask for. */
  exportName: string;
  /** Where to listen: a TCP address (port 0 is not allowed: pick a free one) or a unix socket path. */
  listen: { host: string; port: number } | { socket: string };
  /** @default false; true whenever `image.snapshotName` is set. */
  readOnly?: boolean;
  /** Clients at once. @default 8 */
  shared?: number;
  /**
   * The server dies with this process, even a SIGKILLed one (`setpriv --pdeathsig KILL`): for
   * servers only the agent itself reads (a backup's), which nobody would stop after a crash.
   * Not for exports consumers use: those outlive an agent's restart. @default false
   */
  dieWithAgent?: boolean;
  /** Cache mode, as qemu-nbd's `--cache`. @default 'none' for writable exports (data reaches the file at once), 'writeback' when read-only */
  cache?: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
  /** qemu-nbd binary. @default DEFAULT_QEMU_NBD */
  binary?: string;
  /** How long to wait for the socket to accept. @default 10000 */
  readyTimeoutMs?: number;
  /** qemu-nbd writes its pid here once it listens: the readiness signal. @default a file next to a unix socket, else in os.tmpdir() */
  pidFile?: string;
  /**
   * Serve over TLS only (a plain client is refused in the handshake): `dir` holds qemu's x509
   * files (ca-cert.pem, server-cert.pem, server-key.pem); `verifyPeer` also requires a client
   * certificate signed by ca-cert.pem. @default undefined: plain NBD
   */
  tls?: { dir: string; verifyPeer?: boolean };
  /**
   * Also serve this persistent dirty bitmap of a qcow2 image (`-B NAME`) as the NBD meta
   * context `qemu:dirty-bitmap:NAME`. qemu-nbd refuses to start when the bitmap is missing or
   * inconsistent (marked in-use after a crash). @default none
   */
  bitmap?: string;
  /** Owns the qemu-nbd process: closing the group stops it, even while it is starting. */
  processes: ProcessGroup;
}

/** The id of the TLS credentials object on qemu-nbd's command line. */
export const NBD_TLS_OBJECT_ID = 'flint-nbd-tls';

export interface NbdServer {
  /** `nbd://host:port/name` or `nbd+unix:///name?socket=…`: a URI qemu-img, qemu-io and nbdinfo accept. */
  readonly uri: string;
  readonly pid: number;
  /** Resolves once the process has exited (SIGTERM, then SIGKILL after 5 s). Safe to call twice. */
  stop(): Promise<void>;
  /** Resolves when the process exits for any reason, with its exit code or signal. */
  readonly exited: Promise<string>;
}

/** The qemu-nbd arguments for `opts` (pure; exported for unit tests); `secretFile` holds the key of an encrypted image. */
export function qemuNbdArgs(opts: Omit<NbdServeOptions, 'processes'> & { pidFile: string; secretFile?: string | undefined }): string[] {
  const { image, secretFile } = opts;
  // A snapshot (qcow2 internal, or an RBD snapshot in an `rbd:…@SNAP` file name) is served read-only.
  const readOnly = opts.readOnly === true || image.snapshotName !== undefined || image.rbd?.snapshot !== undefined;
  const imageOpts = image.snapshotName !== undefined || secretFile !== undefined;
  // An internal snapshot is read with force-share: another process (qemu-storage-daemon exporting
  // the volume) may hold the image's write lock; the snapshot's clusters are not written while it exists.
  const args = [
    ...(secretFile ? secretObjectArgs(secretFile) : []),
    ...(imageOpts ? ['--image-opts'] : ['--format', image.format]),
    '--export-name',
    opts.exportName,
    '--persistent',
    `--shared=${opts.shared ?? 8}`,
  ];
  args.push(`--cache=${opts.cache ?? (readOnly ? 'writeback' : 'none')}`);
  if (!readOnly) args.push('--discard=unmap');
  args.push('--pid-file', opts.pidFile);
  if (opts.tls) {
    // QemuOpts syntax: a comma in a value is written twice.
    const dir = opts.tls.dir.replaceAll(',', ',,');
    args.push('--object', `tls-creds-x509,id=${NBD_TLS_OBJECT_ID},dir=${dir},endpoint=server,verify-peer=${opts.tls.verifyPeer ? 'on' : 'off'}`);
    args.push('--tls-creds', NBD_TLS_OBJECT_ID);
  }
  if (readOnly) args.push('--read-only');
  if (image.snapshotName !== undefined) args.push(`--load-snapshot=snapshot.name=${image.snapshotName}`);
  if (opts.bitmap !== undefined) args.push(`--bitmap=${opts.bitmap}`);
  if ('socket' in opts.listen) args.push('--socket', opts.listen.socket);
  else args.push('--bind', opts.listen.host, '--port', String(opts.listen.port));
  const snapshotOpts = image.snapshotName !== undefined ? ',read-only=on,force-share=on' : '';
  args.push(imageOpts ? `${imageOptsString(image.path, image.format, secretFile !== undefined)}${snapshotOpts}` : image.path);
  return args;
}

/** The URI a client uses for `opts.listen` and `opts.exportName` (pure); `tls`: the `nbds` schemes of the NBD URI spec. */
export function nbdUri(listen: NbdServeOptions['listen'], exportName: string, tls = false): string {
  const name = encodeURIComponent(exportName);
  const scheme = tls ? 'nbds' : 'nbd';
  if ('socket' in listen) return `${scheme}+unix:///${name}?socket=${listen.socket}`;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return `${scheme}://${host}:${listen.port}/${name}`;
}

/**
 * Starts qemu-nbd and resolves once it accepts connections.
 * @throws DriverError when qemu-nbd is missing, exits early (e.g. the port is taken or the
 * image cannot be opened: its stderr is in the message) or does not listen in time.
 */
export async function serveNbd(opts: NbdServeOptions): Promise<NbdServer> {
  if (!('socket' in opts.listen) && opts.listen.port === 0) throw new DriverError('qemu-nbd needs a fixed port; pick a free one first', { retryable: false });
  const binary = opts.binary ?? DEFAULT_QEMU_NBD;
  const pidFile = opts.pidFile ?? join('socket' in opts.listen ? `${opts.listen.socket}.pid` : join(tmpdir(), `flint-qemu-nbd-${randomBytes(6).toString('hex')}.pid`));
  await fs.rm(pidFile, { force: true });
  // qemu-nbd reads the key file while it starts: the file is gone once it listens.
  const child = await withSecretFiles([opts.image.key], async ([secretFile]) => {
    const args = qemuNbdArgs({ ...opts, pidFile, secretFile });
    // setpriv execs qemu-nbd: the pid is qemu-nbd's, as its pid file says.
    const child = opts.processes.spawn(opts.dieWithAgent ? { binary: 'setpriv', args: ['--pdeathsig', 'KILL', '--', binary, ...args], stderrLimit: 8192 } : { binary, args, stderrLimit: 8192 });
    await untilListening(child, pidFile, binary, opts);
    return child;
  });

  let stopping: Promise<void> | undefined;
  return {
    uri: nbdUri(opts.listen, opts.exportName, opts.tls !== undefined),
    pid: child.pid,
    exited: child.exited,
    stop: () => (stopping ??= child.stop().then(() => fs.rm(pidFile, { force: true }))),
  };
}

/** Waits until qemu-nbd wrote its pid file. @throws DriverError when it exits first or is late (it is stopped then). */
async function untilListening(child: Daemon, pidFile: string, binary: string, opts: NbdServeOptions): Promise<void> {
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  for (;;) {
    const state = await Promise.race([child.exited.then((how) => ({ exited: how })), wrotePid(pidFile, child.pid).then((ok) => ({ ok }))]);
    if ('exited' in state) {
      if (state.exited.startsWith('error') && state.exited.includes('ENOENT')) {
        throw new DriverError(`${binary} is not installed or not on PATH; install the qemu-utils package`, { retryable: false });
      }
      throw new DriverError(`qemu-nbd could not serve ${opts.image.path} (${state.exited}): ${child.stderr().trim() || 'no message'}`);
    }
    if (state.ok) return;
    if (Date.now() > deadline) {
      await child.stop();
      await fs.rm(pidFile, { force: true });
      throw new DriverError(`qemu-nbd did not listen on ${describe(opts.listen)} within ${opts.readyTimeoutMs ?? 10_000} ms: ${child.stderr().trim() || 'no message'}`);
    }
    await sleep(20);
  }
}

function describe(listen: NbdServeOptions['listen']): string {
  return 'socket' in listen ? listen.socket : `${listen.host}:${listen.port}`;
}

/** True once `pidFile` holds `pid`. */
async function wrotePid(pidFile: string, pid: number): Promise<boolean> {
  const text = await fs.readFile(pidFile, 'utf8').catch(() => '');
  return pid > 0 && Number(text.trim()) === pid;
}
