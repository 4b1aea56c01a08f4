/**
 * A small async wrapper over the `qemu-img` tool (package qemu-utils): just the
 * sub-commands the drivers need. Failures become `DriverError`s carrying qemu's own
 * stderr, which is what an operator needs to see.
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { DriverError } from './driver.js';
import { encryptedCreateOptions, imageOptsString, NEW_KEY_SECRET_ID, qemuFormat, secretObjectArgs, withSecretFiles } from './image-opts.js';

/** The binary run; override for tests or unusual installs. @default 'qemu-img' */
export const DEFAULT_QEMU_IMG = 'qemu-img';
/** A single qemu-img call taking longer than this is killed. @default 600_000 */
export const DEFAULT_QEMU_IMG_TIMEOUT_MS = 600_000;

export type ImageFormat = 'raw' | 'qcow2';
/** qemu's `preallocation` option: `off` is sparse, `falloc` reserves the blocks without writing them. */
export type Preallocation = 'off' | 'metadata' | 'falloc' | 'full';

/** A new encrypted image: its key (a passphrase, never logged) and the LUKS options of its cipher (`luksQemuOptions`). */
export interface NewImageKey {
  key: string;
  luks: Record<string, string>;
}

/** How often a LUKS image's creation is tried: qemu 7.2 fails it at random on a host with coarse CPU accounting. @default 20 */
export const LUKS_CREATE_ATTEMPTS = 20;

/** What `qemu-img info --output=json` says about an image (the fields Flint uses). */
export interface ImageInfo {
  /** Size the consumer sees, bytes. */
  virtualSize: number;
  /** Bytes allocated on the host filesystem. */
  actualSize: number;
  format: string;
  filename: string;
  /** Backing file of a qcow2 overlay, if any. */
  backingFilename: string | undefined;
  /** Tags (names) of the image's internal snapshots, in the order qemu lists them (qcow2 only; empty otherwise). */
  snapshots: string[];
}

export interface QemuImgOptions {
  /** @default DEFAULT_QEMU_IMG */
  binary?: string;
  /** @default DEFAULT_QEMU_IMG_TIMEOUT_MS */
  timeoutMs?: number;
}

/** The image does not exist (qemu-img could not open it because the file is missing). */
export class ImageNotFoundError extends DriverError {
  constructor(path: string, cause?: unknown) {
    super(`image ${path} does not exist`, { cause, retryable: false });
    this.name = 'ImageNotFoundError';
  }
}

/** Runs qemu-img with `args`; resolves its stdout. */
export function runQemuImg(args: readonly string[], opts: QemuImgOptions = {}): Promise<string> {
  const binary = opts.binary ?? DEFAULT_QEMU_IMG;
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...args],
      { timeout: opts.timeoutMs ?? DEFAULT_QEMU_IMG_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          reject(new DriverError(`${binary} is not installed or not on PATH; install the qemu-utils package`, { cause: err }));
          return;
        }
        const detail = stderr.trim() || err.message;
        const killed = (err as { killed?: boolean }).killed ? ` (killed after ${opts.timeoutMs ?? DEFAULT_QEMU_IMG_TIMEOUT_MS} ms)` : '';
        reject(new DriverError(`qemu-img ${args[0] ?? ''} failed${killed}: ${detail}`, { cause: err }));
      },
    );
  });
}

/** `qemu-img --version`, e.g. `7.2.22`; a DriverError when the tool is missing. */
export async function qemuImgVersion(opts: QemuImgOptions = {}): Promise<string> {
  const out = await runQemuImg(['--version'], opts);
  return /version\s+(\S+)/.exec(out)?.[1] ?? out.split('\n')[0]!.trim();
}

/**
 * `qemu-img info`. Uses `-U` (force share) so an image held open by an export
 * (qemu-nbd, qemu-storage-daemon) can still be inspected.
 * @throws ImageNotFoundError when the file does not exist.
 */
export async function imageInfo(path: string, format?: ImageFormat | 'luks', opts: QemuImgOptions = {}): Promise<ImageInfo> {
  const args = ['info', '--output=json', '-U'];
  if (format) args.push('-f', format);
  args.push(path);
  let out: string;
  try {
    out = await runQemuImg(args, opts);
  } catch (err) {
    if (err instanceof DriverError && /No such file or directory/.test(err.message)) throw new ImageNotFoundError(path, err);
    throw err;
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(out) as Record<string, unknown>;
  } catch (err) {
    throw new DriverError(`qemu-img info ${path} printed something that is not JSON: ${out.slice(0, 200)}`, { cause: err });
  }
  const virtualSize = raw['virtual-size'];
  if (typeof virtualSize !== 'number') throw new DriverError(`qemu-img info ${path} reported no virtual-size`);
  return {
    virtualSize,
    actualSize: typeof raw['actual-size'] === 'number' ? raw['actual-size'] : 0,
    format: String(raw.format),
    filename: String(raw.filename),
    backingFilename: typeof raw['backing-filename'] === 'string' ? raw['backing-filename'] : undefined,
    snapshots: Array.isArray(raw.snapshots)
      ? (raw.snapshots as unknown[]).flatMap((s) => {
          const name = (s as { name?: unknown } | null)?.name;
          return typeof name === 'string' ? [name] : [];
        })
      : [],
  };
}

/**
 * `qemu-img create -f <format> [-o preallocation=…] <path> <bytes>`; with `encryption`, an
 * encrypted image (qcow2's LUKS, or a raw LUKS container: see image-opts.ts).
 */
export async function createImage(
  path: string,
  format: ImageFormat,
  sizeBytes: number,
  options: { preallocation?: Preallocation; encryption?: NewImageKey } & QemuImgOptions = {},
): Promise<void> {
  const o: string[] = [];
  if (options.preallocation && options.preallocation !== 'off') o.push(`preallocation=${options.preallocation}`);
  const { encryption } = options;
  if (!encryption) {
    await runQemuImg(['create', '-q', '-f', format, ...(o.length ? ['-o', o.join(',')] : []), path, String(sizeBytes)], options);
    return;
  }
  await withSecretFiles([encryption.key], ([file]) =>
    retryLuksCreate(() =>
      runQemuImg(
        ['create', '-q', ...secretObjectArgs(file!), '-f', qemuFormat(format, true), '-o', [encryptedCreateOptions(format, encryption.luks), ...o].join(','), path, String(sizeBytes)],
        options,
      ),
    ),
  );
}

/**
 * Runs a qemu-img call that creates a LUKS header until it does not fail with qemu 7.2's
 * "Unable to get accurate CPU usage": its PBKDF benchmark reads the thread's CPU time,
 * which with tick-based accounting (4 ms at HZ=250) is often 0 for its first short round.
 */
export async function retryLuksCreate<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= LUKS_CREATE_ATTEMPTS || !(err instanceof DriverError && /Unable to get accurate CPU usage/.test(err.message))) throw err;
    }
  }
}

/** `qemu-img resize` to `sizeBytes`; grow only (qemu refuses to shrink without `--shrink`, which Flint never passes). `key` opens an encrypted image. */
export async function resizeImage(
  path: string,
  format: ImageFormat,
  sizeBytes: number,
  options: { preallocation?: Preallocation; key?: string } & QemuImgOptions = {},
): Promise<void> {
  const prealloc = options.preallocation && options.preallocation !== 'off' ? [`--preallocation=${options.preallocation}`] : [];
  await withSecretFiles([options.key], ([file]) => {
    const image = file ? [...secretObjectArgs(file), '--image-opts', imageOptsString(path, format, true)] : ['-f', format, path];
    return runQemuImg(['resize', '-q', ...prealloc, ...image, String(sizeBytes)], options);
  });
}

/**
 * `qemu-img snapshot -c <name>`: takes an internal snapshot of a qcow2 image. No `-U`:
 * it writes the image, so it must (and does) fail while another process holds the write lock.
 * `key` opens an encrypted image (qemu opens it fully, even to change its snapshot table).
 */
export async function createInternalSnapshot(path: string, name: string, opts: QemuImgOptions & { key?: string } = {}): Promise<void> {
  await qcow2Snapshot(path, '-c', name, opts);
}

/** `qemu-img snapshot -d <name>`: deletes an internal snapshot of a qcow2 image (an error when it is missing). */
export async function deleteInternalSnapshot(path: string, name: string, opts: QemuImgOptions & { key?: string } = {}): Promise<void> {
  await qcow2Snapshot(path, '-d', name, opts);
}

/**
 * `qemu-img snapshot` has no `-f`: the format is pinned with `--image-opts` instead of
 * being probed.
 */
function qcow2Snapshot(path: string, action: '-c' | '-d' | '-a', name: string, opts: QemuImgOptions & { key?: string }): Promise<string> {
  return withSecretFiles([opts.key], ([file]) =>
    runQemuImg(['snapshot', '-q', ...(file ? secretObjectArgs(file) : []), action, name, '--image-opts', imageOptsString(path, 'qcow2', file !== undefined)], opts),
  );
}

/**
 * `qemu-img convert`: copies `src` (of `srcFormat`; its internal snapshot `snapshotName`
 * when given) into a new image `dest` of `destFormat`. `-U` lets it read an image another
 * process holds open; holes stay holes (`-S 4k` is qemu's default sparse detection).
 * `key` opens an encrypted source; `encryption` encrypts the new image with a key of its own.
 */
export async function convertImage(
  src: string,
  srcFormat: ImageFormat,
  dest: string,
  destFormat: ImageFormat,
  options: { snapshotName?: string; preallocation?: Preallocation; key?: string; encryption?: NewImageKey } & QemuImgOptions = {},
): Promise<void> {
  const { encryption } = options;
  await withSecretFiles([options.key, encryption?.key], async ([srcFile, destFile]) => {
    const args = ['convert', '-q', '-U'];
    if (srcFile) args.push(...secretObjectArgs(srcFile));
    if (destFile) args.push(...secretObjectArgs(destFile, NEW_KEY_SECRET_ID));
    if (srcFile) args.push('--image-opts');
    else args.push('-f', srcFormat);
    if (options.snapshotName !== undefined) args.push('-l', `snapshot.name=${options.snapshotName}`);
    args.push(srcFile ? imageOptsString(src, srcFormat, true) : src);
    args.push('-O', qemuFormat(destFormat, encryption !== undefined));
    const o: string[] = [];
    if (options.preallocation && options.preallocation !== 'off') o.push(`preallocation=${options.preallocation}`);
    if (encryption) o.push(encryptedCreateOptions(destFormat, encryption.luks, NEW_KEY_SECRET_ID));
    if (o.length) args.push('-o', o.join(','));
    args.push(dest);
    await (encryption ? retryLuksCreate(() => runQemuImg(args, options)) : runQemuImg(args, options));
  });
}

/** `qemu-img snapshot -a <name>`: reverts a qcow2 image to one of its internal snapshots (needs the write lock). */
export async function applyInternalSnapshot(path: string, name: string, opts: QemuImgOptions & { key?: string } = {}): Promise<void> {
  await qcow2Snapshot(path, '-a', name, opts);
}

/**
 * Virtual disk size recorded in each internal snapshot of a qcow2 image, by snapshot
 * name. qemu-img 7.2 does not print it (`info` lists snapshots without their size, and
 * `measure -l` reports the current size), so this reads the qcow2 snapshot table
 * itself (docs/interop/qcow2.txt: header fields `nb_snapshots` at byte 60 and
 * `snapshots_offset` at 64; each entry is a 40-byte fixed part, `extra_data` whose
 * bytes 8..15 are `disk_size` when present, the id and the name, padded to 8 bytes).
 * Read-only; snapshots without a recorded `disk_size` are left out.
 */
export async function qcow2SnapshotSizes(path: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const handle = await fs.open(path, 'r');
  try {
    const header = Buffer.alloc(72);
    await handle.read(header, 0, 72, 0);
    if (header.readUInt32BE(0) !== 0x514649fb) throw new DriverError(`${path} is not a qcow2 image`);
    const count = header.readUInt32BE(60);
    let offset = Number(header.readBigUInt64BE(64));
    const fixed = Buffer.alloc(40);
    for (let i = 0; i < count; i++) {
      await handle.read(fixed, 0, 40, offset);
      const idSize = fixed.readUInt16BE(12);
      const nameSize = fixed.readUInt16BE(14);
      const extraSize = fixed.readUInt32BE(36);
      const rest = Buffer.alloc(extraSize + idSize + nameSize);
      await handle.read(rest, 0, rest.length, offset + 40);
      const name = rest.subarray(extraSize + idSize).toString('utf8');
      if (extraSize >= 16) sizes.set(name, Number(rest.readBigUInt64BE(8)));
      const length = 40 + rest.length;
      offset += Math.ceil(length / 8) * 8;
    }
  } finally {
    await handle.close();
  }
  return sizes;
}

/** The last percentage in a chunk of `qemu-img -p` output (`    (42.17/100%)\r`); null when there is none. Pure. */
export function parseQemuProgress(chunk: string): number | null {
  let last: number | null = null;
  for (const m of chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) last = Number(m[1]);
  return last;
}

/** How long a long-running qemu-img may go without its progress moving before it is killed. @default 600_000 */
export const DEFAULT_QEMU_IMG_STALL_MS = 600_000;

/**
 * Runs qemu-img with `-p` (added here) and `args`, calling `onProgress` with each new
 * percentage (0..100). A copy of a large volume may take hours: instead of a fixed timeout
 * it is killed only when its progress has not moved for `stallMs`.
 */
export function runQemuImgWithProgress(
  args: readonly string[],
  onProgress: (percent: number) => void,
  opts: QemuImgOptions & { stallMs?: number } = {},
): Promise<void> {
  const binary = opts.binary ?? DEFAULT_QEMU_IMG;
  const stallMs = opts.stallMs ?? DEFAULT_QEMU_IMG_STALL_MS;
  const [sub, ...rest] = args;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [sub ?? '', '-p', ...rest], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stalled = false;
    let last = -1;
    let watchdog = setTimeout(kill, stallMs);
    function kill(): void {
      stalled = true;
      child.kill('SIGKILL');
    }
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const p = parseQemuProgress(chunk);
      if (p === null || p <= last) return;
      last = p;
      clearTimeout(watchdog);
      watchdog = setTimeout(kill, stallMs);
      onProgress(p);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk.slice(0, 64 * 1024 - stderr.length)));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(watchdog);
      reject(
        err.code === 'ENOENT'
          ? new DriverError(`${binary} is not installed or not on PATH; install the qemu-utils package`, { cause: err })
          : new DriverError(`qemu-img ${sub ?? ''} failed: ${err.message}`, { cause: err }),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      if (code === 0) return resolve();
      const why = stalled ? ` (killed: no progress for ${stallMs} ms)` : signal ? ` (killed by ${signal})` : '';
      reject(new DriverError(`qemu-img ${sub ?? ''} failed${why}: ${stderr.trim() || `exit code ${code}`}`, { cause: Object.assign(new Error('qemu-img failed'), { code }) }));
    });
  });
}
