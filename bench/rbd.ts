/**
 * `npm run bench -- --only rbd`: the rbd driver next to the file driver, on a single-node
 * Ceph cluster this run boots in os.tmpdir() (src/cli/dev/ceph-cluster.ts) and removes.
 *
 * - Latency through the drivers (no API, no NATS): createVolume (1 GiB), createSnapshot,
 *   cloneVolume of a volume, p50/p99, for an rbd pool and a qcow2 file pool.
 * - Backup engine on one rbd image of mixed random and compressible data: full backup MB/s
 *   (allocated extents from `rbd diff`), then 1% changed through qemu-io and an incremental
 *   through `rbd diff --from-snap` (seconds, bytes read), next to a compare-mode incremental
 *   of the same bytes (reads everything; the manifests must be equal), and a restore into a
 *   new rbd image (MB/s, checked by sha256 of both images).
 * - Sequential write and read MB/s through the iSCSI export (tgt-rbd) next to librbd (rbd-io.ts).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { destroyCephCluster, startCephCluster } from '../src/cli/dev/ceph-cluster.js';
import type { FilePoolConfig, RbdPoolConfig } from '../src/config/index.js';
import { createBackupEngine, openRepository } from '../src/node-agent/backup/index.js';
import { FileDriver, RbdDriver, type VolumeDriver } from '../src/node-agent/drivers/index.js';
import type { Cleanup } from './cleanup.js';
import { row, type Row } from './report.js';
import { rbdSha256 } from '../tests/helpers/rbd-images.js';
import { rbdIo, type RbdIoResult } from './rbd-io.js';
import { round, timeMs } from './stats.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export interface RbdBenchResult {
  rows: Row[];
  /** iSCSI through tgt-rbd next to librbd. */
  io: RbdIoResult;
  backup: {
    imageBytes: number;
    allocatedBytes: number;
    fullSeconds: number;
    fullMBps: number;
    rbdDiffIncrementalSeconds: number;
    rbdDiffIncrementalReadBytes: number;
    rbdDiffIncrementalMBpsOfVolume: number;
    compareIncrementalSeconds: number;
    compareIncrementalReadBytes: number;
    restoreSeconds: number;
    restoreMBps: number;
  };
}

const poolBase = { capabilities: {}, maxOverSubscriptionRatio: 20, reservedPercentage: 0, thinProvisioning: true, capacityGiB: 100 };

/** create, snapshot and clone latency of one driver, `n` each; removes what it made. */
async function driverLatency(label: string, driver: VolumeDriver, n: number): Promise<Row[]> {
  const create: number[] = [];
  const snap: number[] = [];
  const clone: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `b${i}`;
    create.push(await timeMs(() => driver.createVolume(id, 1)));
    snap.push(await timeMs(() => driver.createSnapshot(id, `s${i}`)));
    clone.push(await timeMs(() => driver.cloneVolume(`c${i}`, 1, id)));
  }
  for (let i = 0; i < n; i++) {
    await driver.deleteVolume(`c${i}`);
    await driver.deleteSnapshot(`b${i}`, `s${i}`);
    await driver.deleteVolume(`b${i}`);
  }
  return [row(`${label} createVolume 1 GiB`, create), row(`${label} createSnapshot`, snap), row(`${label} cloneVolume`, clone)];
}

/** Boots a cluster, measures, removes everything. `n` samples per latency metric; `imageMiB` of data in the backup image. */
export async function rbdBench(opts: { n?: number; imageMiB?: number; ioRuns?: number; log?: (msg: string) => void; cleanup: Cleanup }): Promise<RbdBenchResult> {
  const n = opts.n ?? 20;
  const imageMiB = opts.imageMiB ?? 512;
  const log = opts.log ?? (() => undefined);
  const dir = await fs.mkdtemp(join(tmpdir(), 'flint-bench-rbd-'));
  opts.cleanup.add('bench dir', () => fs.rm(dir, { recursive: true, force: true }));
  log('booting a single-node Ceph cluster');
  const cluster = await startCephCluster({ dir: join(dir, 'ceph') });
  opts.cleanup.add('ceph cluster', () => destroyCephCluster(join(dir, 'ceph')));
  await cluster.createRbdPool('bench');
  const keyring = await cluster.createClient('bench', ['bench']);
  const rbdPool: RbdPoolConfig = { ...poolBase, name: 'r', driver: 'rbd', cluster: { conf: cluster.conf, user: 'bench', keyring }, rbdPool: 'bench', imageFormat: 'raw' };
  const filePool: FilePoolConfig = { ...poolBase, name: 'f', driver: 'file', directory: join(dir, 'files'), imageFormat: 'qcow2' };
  const rbd = new RbdDriver(rbdPool);
  const file = new FileDriver(filePool);
  await rbd.setup();
  await file.setup();

  log(`latency: ${n} × create, snapshot, clone on rbd and on file (qcow2)`);
  const rows = [...(await driverLatency('rbd', rbd, n)), ...(await driverLatency('file qcow2', file, n))];

  log('I/O: a 1 GiB rbd volume written and read through its iSCSI export and through librbd');
  const io = await rbdIo(rbd, dir, { sizeGiB: 1, runs: opts.ioRuns ?? 3 });

  const size = 1024 * MiB;
  log(`backup: a 1 GiB rbd image with ${imageMiB} MiB of mixed random and compressible data`);
  await rbd.createVolume('bk', 1);
  const source = await rbd.imageSource('bk');
  const raw = join(dir, 'data.raw');
  const fh = await fs.open(raw, 'w');
  const text = Buffer.alloc(8 * MiB, 'Flint block storage benchmark: compressible log line 0123456789\n');
  for (let off = 0; off < imageMiB * MiB; off += 8 * MiB) await fh.write((off / (8 * MiB)) % 2 === 0 ? randomBytes(8 * MiB) : text, 0, 8 * MiB, off);
  await fh.truncate(size);
  await fh.close();
  await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', raw, source.path]);
  await fs.rm(raw);

  const repo = await openRepository(`dir:${join(dir, 'repo')}`, { dataDir: dir });
  opts.cleanup.add('repository', () => repo.close());
  const engine = createBackupEngine(repo);
  let full = null as Awaited<ReturnType<typeof engine.backup>> | null;
  const fullSeconds = (await timeMs(async () => (full = await engine.backup({ backupId: 'full', volumeId: 'bk', source, parent: null, trackChanges: true })))) / 1000;
  if (full!.changeTracking !== 'full') throw new Error(`bench: the full rbd backup used ${String(full!.changeTracking)}`);

  // 1% of the volume: ten 1 MiB writes spread over the data.
  const writes = Array.from({ length: 10 }, (_, i) => ['-c', `write -P ${i + 1} ${Math.floor(((i + 0.5) * imageMiB) / 10) * MiB} 1M`]).flat();
  await run('qemu-io', ['-f', 'raw', ...writes, source.path]);
  let incr = null as Awaited<ReturnType<typeof engine.backup>> | null;
  const incrSeconds = (await timeMs(async () => (incr = await engine.backup({ backupId: 'incr', volumeId: 'bk', source, parent: full, trackChanges: true })))) / 1000;
  if (incr!.changeTracking !== 'rbd-diff') throw new Error(`bench: the rbd incremental used ${String(incr!.changeTracking)}, not rbd diff`);
  let cmp = null as Awaited<ReturnType<typeof engine.backup>> | null;
  const cmpSeconds = (await timeMs(async () => (cmp = await engine.backup({ backupId: 'cmp', volumeId: 'bk', source, parent: full })))) / 1000;
  if (cmp!.sha256 !== incr!.sha256 || JSON.stringify(cmp!.entries) !== JSON.stringify(incr!.entries)) throw new Error('bench: the rbd-diff incremental and the compare of the same bytes differ');

  log('restore into a new rbd image');
  await rbd.createVolume('rs', 1);
  const target = await rbd.imageSource('rs');
  const restoreSeconds = (await timeMs(() => engine.restore({ manifest: incr!, target }))) / 1000;
  const user = { conf: cluster.conf, user: 'bench', keyring, rbdPool: 'bench' };
  if ((await rbdSha256(user, 'volume-rs')) !== (await rbdSha256(user, 'volume-bk'))) throw new Error('bench: the restored rbd image differs from the source');

  const allocated = full!.readBytes ?? 0;
  return {
    rows,
    io,
    backup: {
      imageBytes: size,
      allocatedBytes: allocated,
      fullSeconds: round(fullSeconds, 2),
      fullMBps: round(allocated / MiB / fullSeconds, 1),
      rbdDiffIncrementalSeconds: round(incrSeconds, 2),
      rbdDiffIncrementalReadBytes: incr!.readBytes ?? 0,
      rbdDiffIncrementalMBpsOfVolume: round(allocated / MiB / incrSeconds, 1),
      compareIncrementalSeconds: round(cmpSeconds, 2),
      compareIncrementalReadBytes: cmp!.readBytes ?? 0,
      restoreSeconds: round(restoreSeconds, 2),
      restoreMBps: round(incr!.dataBytes / MiB / restoreSeconds, 1),
    },
  };
}

export function formatRbdBackup(b: RbdBenchResult['backup']): string {
  const mib = (v: number) => `${round(v / MiB, 1)} MiB`;
  return [
    `rbd backup (1 GiB image, ${mib(b.allocatedBytes)} allocated):`,
    `  full                          ${b.fullSeconds} s = ${b.fullMBps} MB/s of allocated data (read ${mib(b.allocatedBytes)})`,
    `  incremental, rbd diff (1%)    ${b.rbdDiffIncrementalSeconds} s (read ${mib(b.rbdDiffIncrementalReadBytes)}; ${b.rbdDiffIncrementalMBpsOfVolume} MB/s of the allocated data it stands for)`,
    `  incremental, compare          ${b.compareIncrementalSeconds} s (read ${mib(b.compareIncrementalReadBytes)})`,
    `  restore into rbd              ${b.restoreSeconds} s = ${b.restoreMBps} MB/s`,
  ].join('\n');
}
