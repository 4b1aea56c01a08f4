/**
 * Sequential read throughput of one volume through its exports versus the image file, in
 * one run on one machine: the iSCSI export (tgtd, read by qemu-img through libiscsi into a
 * null-co sink), the NBD export (qemu-nbd, read by nbdcopy into `null:`) and `cat` of the
 * image file into /dev/null. The volume is a raw file-driver volume filled with a
 * non-zero pattern (so no reader can skip holes), read once first so every reader starts
 * from a warm page cache.
 *
 *   node dist/bench/attach-io.js [--size-gib 1] [--runs 3]
 *
 * `attachIo()` is exported for bench/run.ts.
 */
import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../src/net/free-port.js';
import { ProcessGroup } from '../src/lifecycle/index.js';
import { createTargets, type IscsiConnection, type NbdConnection } from '../src/node-agent/targets/index.js';
import { round, summarize } from './stats.js';
import { setUpFileDriver } from '../tests/helpers/file-pool.js';
import { iscsiImageOpts } from '../tests/helpers/iscsi.js';

const execFileAsync = promisify(execFile);

export interface AttachIoOptions {
  /** Volume size read, GiB (volumes come in whole GiB). @default 1 */
  sizeGiB?: number;
  /** Reads per path; the median is reported. @default 3 */
  runs?: number;
}

export interface ReadResult {
  path: 'iscsi' | 'nbd' | 'file';
  tool: string;
  /** MB/s (10^6 bytes) of each run. */
  mbPerSecond: number[];
  medianMBps: number;
}

export interface AttachIoResult {
  sizeBytes: number;
  runs: number;
  results: ReadResult[];
}

export async function attachIo(options: AttachIoOptions = {}): Promise<AttachIoResult> {
  const sizeGiB = options.sizeGiB ?? 1;
  const runs = options.runs ?? 3;
  const sizeBytes = sizeGiB * 1024 ** 3;
  const dir = await mkdtemp(join(tmpdir(), 'flint-bench-attach-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const driver = await setUpFileDriver(dir, { name: 'bench', imageFormat: 'raw' });
    await driver.createVolume('bench', sizeGiB);
    const image = await driver.imageSource('bench');
    await execFileAsync('qemu-io', ['-f', 'raw', '-c', `write -P 0x5a 0 ${sizeBytes}`, image.path], { maxBuffer: 1 << 20 });

    const nbdFirst = await freePort();
    const processes = new ProcessGroup('attach-io bench');
    stops.push(() => processes.close());
    const targets = createTargets({ host: 'bench', address: '127.0.0.1', stateDir: join(dir, 'state'), iscsiPort: await freePort(), nbdPortRange: [nbdFirst, nbdFirst + 20], processes });
    const iscsi = targets.get('iscsi')!;
    const nbd = targets.get('nbd')!;
    stops.push(() => iscsi.shutdown(), () => nbd.shutdown());
    await iscsi.setup();
    await nbd.setup();
    const chap = { username: 'bench-user', password: 'bench-secret-123' };
    const initiator = 'iqn.2026-11.io.flint.bench:reader';
    const req = { volumeId: 'bench', image, mode: 'ro' as const };
    const ic = (await iscsi.export({ ...req, attachmentId: 'bench-iscsi', initiator, chap })) as IscsiConnection;
    const nc = (await nbd.export({ ...req, attachmentId: 'bench-nbd' })) as NbdConnection;
    const iscsiOpts = iscsiImageOpts({ ...ic, ...chap, initiator });

    const readers: Array<{ path: ReadResult['path']; tool: string; read: () => Promise<void> }> = [
      { path: 'file', tool: 'cat > /dev/null', read: () => catToNull(image.path) },
      {
        path: 'iscsi',
        tool: 'qemu-img convert (libiscsi) → null-co',
        read: () => execFileAsync('qemu-img', ['convert', '-n', '--image-opts', iscsiOpts, '--target-image-opts', `driver=null-co,size=${sizeBytes}`]).then(() => undefined),
      },
      { path: 'nbd', tool: 'nbdcopy → null:', read: () => execFileAsync('nbdcopy', [nc.uri, 'null:']).then(() => undefined) },
    ];
    await catToNull(image.path); // warm the page cache for everyone
    const results: ReadResult[] = [];
    for (const r of readers) {
      const mbPerSecond: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await r.read();
        mbPerSecond.push(round(sizeBytes / 1e6 / ((performance.now() - t0) / 1000), 1));
      }
      results.push({ path: r.path, tool: r.tool, mbPerSecond, medianMBps: summarize(mbPerSecond).p50 });
    }
    return { sizeBytes, runs, results };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(`attach-io cleanup: ${(err as Error).message}`));
    await rm(dir, { recursive: true, force: true });
  }
}

function catToNull(path: string): Promise<void> {
  const out = openSync('/dev/null', 'w');
  return new Promise<void>((resolve, reject) => {
    const child = spawn('cat', [path], { stdio: ['ignore', out, 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cat exited ${code}`))));
  }).finally(() => closeSync(out));
}

export function formatAttachIo(r: AttachIoResult): string {
  const lines = [`sequential read of a ${r.sizeBytes / 1024 ** 3} GiB raw volume, median of ${r.runs} (MB/s):`];
  const file = r.results.find((x) => x.path === 'file')?.medianMBps ?? Number.NaN;
  for (const x of r.results) {
    const ratio = x.path === 'file' ? '' : `  (${round(x.medianMBps / file, 2)}× the file)`;
    lines.push(`  ${x.path.padEnd(6)} ${String(x.medianMBps).padStart(8)}  ${x.tool}  runs ${x.mbPerSecond.join(', ')}${ratio}`);
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag: string): number | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  try {
    console.log(formatAttachIo(await attachIo({ sizeGiB: value('--size-gib'), runs: value('--runs') })));
  } catch (err) {
    console.error(`attach-io failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  }
}
