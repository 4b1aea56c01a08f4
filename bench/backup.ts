/**
 * Backup engine benchmark on one 1 GiB raw image of mixed random and compressible data
 * (alternating 8 MiB regions), against a directory repository in os.tmpdir():
 * full backup MB/s, incremental after changing 1% (time as a ratio of the full backup,
 * and bytes read), restore MB/s into a new raw image, and as baselines `cat image >
 * /dev/null` and `restic backup` (full and the same 1% incremental) of the same file
 * (skipped when restic is not installed). A raw image has no dirty bitmap, so its
 * incremental compares (reads everything); the same data as a qcow2 image is then backed
 * up with change tracking: full, the same 1% written with qemu-io, and the incremental
 * through the dirty bitmap, next to a compare-mode incremental of the same bytes (their
 * manifests must be equal). Page cache is warm for every reader (the image was just
 * written): figures compare CPU and pipeline cost, not disk speed.
 *
 *   node dist/bench/backup.js          (or call backupBench() from bench/run.ts)
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createBackupEngine, openRepository } from '../src/node-agent/backup/index.js';
import { machineInfo, writeResult } from './report.js';
import { round } from './stats.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export interface BackupBenchResult {
  imageBytes: number;
  catMBps: number;
  fullBackupMBps: number;
  fullBackupSeconds: number;
  incrementalSeconds: number;
  incrementalOverFull: number;
  incrementalStoredBytes: number;
  /** Bytes the raw (compare-mode) incremental read from the image. */
  incrementalReadBytes: number;
  fullStoredBytes: number;
  /** The same data as qcow2, with change tracking. */
  qcow2: {
    fullSeconds: number;
    bitmapIncrementalSeconds: number;
    bitmapIncrementalOverFull: number;
    bitmapIncrementalReadBytes: number;
    compareIncrementalSeconds: number;
    compareIncrementalOverFull: number;
    compareIncrementalReadBytes: number;
  };
  restoreMBps: number;
  restic: { fullSeconds: number; fullMBps: number; incrementalSeconds: number } | null;
  ratios: Record<string, number>;
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return seconds(t0);
}

function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(0, 500)}`))));
  });
}

async function hasRestic(): Promise<boolean> {
  return run('restic', ['version']).then(
    () => true,
    () => false,
  );
}

/** Runs the benchmark in a temp dir it removes; `log` gets progress lines. */
export async function backupBench(opts: { sizeBytes?: number; log?: (msg: string) => void } = {}): Promise<BackupBenchResult> {
  const size = opts.sizeBytes ?? 1024 * MiB;
  const log = opts.log ?? (() => undefined);
  const dir = await fs.mkdtemp(join(tmpdir(), 'flint-bench-backup-'));
  try {
    const image = join(dir, 'image.raw');
    log(`writing a ${size / MiB} MiB image of mixed random and compressible data`);
    const fh = await fs.open(image, 'w');
    const text = Buffer.alloc(8 * MiB, 'Flint block storage benchmark: compressible log line 0123456789\n');
    for (let off = 0; off < size; off += 8 * MiB) await fh.write((off / (8 * MiB)) % 2 === 0 ? randomBytes(8 * MiB) : text, 0, Math.min(8 * MiB, size - off), off);
    await fh.sync();
    await fh.close();

    const catSeconds = await timed(() => sh('sh', ['-c', `cat '${image}' > /dev/null`]));

    const repo = await openRepository(`dir:${join(dir, 'repo')}`, { dataDir: dir });
    const engine = createBackupEngine(repo);
    const source = { path: image, format: 'raw' as const, sizeBytes: size };
    log('full backup');
    let full = null as Awaited<ReturnType<typeof engine.backup>> | null;
    const fullSeconds = await timed(async () => {
      full = await engine.backup({ backupId: 'full', volumeId: 'bench', source, parent: null });
    });

    // 1%: ten 1 MiB random writes spread over the image.
    const changes = Array.from({ length: Math.max(1, Math.round(size / MiB / 100)) }, (_, i) => ({ offset: Math.floor(((i + 0.5) * size) / Math.round(size / MiB / 100) / MiB) * MiB, data: randomBytes(MiB) }));
    const ph = await fs.open(image, 'r+');
    for (const c of changes) await ph.write(c.data, 0, c.data.length, c.offset);
    await ph.close();
    log('incremental backup (1% changed)');
    let incr = null as Awaited<ReturnType<typeof engine.backup>> | null;
    const incrSeconds = await timed(async () => {
      incr = await engine.backup({ backupId: 'incr', volumeId: 'bench', source, parent: full });
    });

    log('restore into a new raw image');
    const target = join(dir, 'restored.raw');
    await run('qemu-img', ['create', '-q', '-f', 'raw', target, String(size)]);
    const restoreSeconds = await timed(() => engine.restore({ manifest: incr!, target: { path: target, format: 'raw', sizeBytes: size } }));
    await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', image, target]).catch((err: Error) => {
      throw new Error(`bench: the restored image differs from the source (${err.message})`);
    });
    await repo.close();
    await fs.rm(join(dir, 'repo'), { recursive: true, force: true });
    await fs.rm(target, { force: true });

    let restic: BackupBenchResult['restic'] = null;
    if (await hasRestic()) {
      log('restic baseline');
      const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: join(dir, 'restic'), RESTIC_CACHE_DIR: join(dir, 'restic-cache') };
      await sh('restic', ['init', '--quiet'], env);
      // restic's full backup of the same image, then the same kind of 1% change and its incremental.
      const before = image;
      const rfull = await timed(() => sh('restic', ['backup', '--quiet', before], env));
      const ph2 = await fs.open(image, 'r+');
      for (const c of changes) await ph2.write(randomBytes(MiB), 0, MiB, c.offset);
      await ph2.close();
      const rincr = await timed(() => sh('restic', ['backup', '--quiet', before], env));
      restic = { fullSeconds: round(rfull, 2), fullMBps: round(size / MiB / rfull, 1), incrementalSeconds: round(rincr, 2) };
    }

    // Last: it converts the raw image (which restic reads) to qcow2 and removes it.
    const qcow2 = await qcow2Tracking(dir, image, size, changes.map((c) => c.offset), log);

    const fullMBps = size / MiB / fullSeconds;
    const res: BackupBenchResult = {
      imageBytes: size,
      catMBps: round(size / MiB / catSeconds, 1),
      fullBackupMBps: round(fullMBps, 1),
      fullBackupSeconds: round(fullSeconds, 2),
      incrementalSeconds: round(incrSeconds, 2),
      incrementalOverFull: round(incrSeconds / fullSeconds, 3),
      incrementalStoredBytes: incr!.storedBytes,
      incrementalReadBytes: incr!.readBytes ?? 0,
      fullStoredBytes: full!.storedBytes,
      qcow2,
      restoreMBps: round(size / MiB / restoreSeconds, 1),
      restic,
      ratios: {
        fullBackup_over_cat: round(fullMBps / (size / MiB / catSeconds), 3),
        qcow2BitmapIncremental_over_compareIncremental: round(qcow2.bitmapIncrementalSeconds / qcow2.compareIncrementalSeconds, 3),
        ...(restic ? { fullBackupSpeed_over_restic: round(fullMBps / restic.fullMBps, 2), incrementalTime_over_restic: round(incrSeconds / restic.incrementalSeconds, 2) } : {}),
      },
    };
    return res;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * The qcow2 part: `image` converted to qcow2, a tracked full backup, 1 MiB of new random data
 * written with qemu-io at each of `offsets`, then the incremental through the dirty bitmap and
 * a compare-mode incremental of the same bytes (checked equal).
 */
async function qcow2Tracking(dir: string, rawImage: string, size: number, offsets: number[], log: (msg: string) => void): Promise<BackupBenchResult['qcow2']> {
  const image = join(dir, 'image.qcow2');
  log('converting the image to qcow2');
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawImage, image]);
  await fs.rm(rawImage, { force: true });
  const repo = await openRepository(`dir:${join(dir, 'repo-qcow2')}`, { dataDir: dir });
  try {
    const engine = createBackupEngine(repo);
    const source = { path: image, format: 'qcow2' as const, sizeBytes: size };
    log('qcow2: full backup (adds the dirty bitmap)');
    let full = null as Awaited<ReturnType<typeof engine.backup>> | null;
    const fullSeconds = await timed(async () => {
      full = await engine.backup({ backupId: 'full', volumeId: 'bench', source, parent: null, trackChanges: true });
    });
    const scratch = join(dir, 'change.bin');
    await fs.writeFile(scratch, randomBytes(MiB));
    await run('qemu-io', ['-f', 'qcow2', ...offsets.flatMap((o) => ['-c', `write -s ${scratch} ${o} ${MiB}`]), image]);
    log('qcow2: incremental through the dirty bitmap (1% changed)');
    let bitmap = null as Awaited<ReturnType<typeof engine.backup>> | null;
    const bitmapSeconds = await timed(async () => {
      bitmap = await engine.backup({ backupId: 'incr', volumeId: 'bench', source, parent: full, trackChanges: true });
    });
    if (bitmap!.changeTracking !== 'dirty-bitmap') throw new Error(`bench: the qcow2 incremental used ${String(bitmap!.changeTracking)}, not the dirty bitmap`);
    log('qcow2: the same incremental comparing (reads everything)');
    let compare = null as Awaited<ReturnType<typeof engine.backup>> | null;
    const compareSeconds = await timed(async () => {
      compare = await engine.backup({ backupId: 'cmp', volumeId: 'bench', source, parent: full });
    });
    if (compare!.sha256 !== bitmap!.sha256 || JSON.stringify(compare!.entries) !== JSON.stringify(bitmap!.entries)) {
      throw new Error('bench: the dirty-bitmap incremental and the compare incremental of the same bytes differ');
    }
    return {
      fullSeconds: round(fullSeconds, 2),
      bitmapIncrementalSeconds: round(bitmapSeconds, 3),
      bitmapIncrementalOverFull: round(bitmapSeconds / fullSeconds, 3),
      bitmapIncrementalReadBytes: bitmap!.readBytes ?? 0,
      compareIncrementalSeconds: round(compareSeconds, 2),
      compareIncrementalOverFull: round(compareSeconds / fullSeconds, 3),
      compareIncrementalReadBytes: compare!.readBytes ?? 0,
    };
  } finally {
    await repo.close();
  }
}

export function printBackupBench(r: BackupBenchResult): void {
  console.log(`\nbackup engine, ${r.imageBytes / MiB} MiB image (half random, half compressible), directory repository, warm page cache`);
  console.log(`  cat image > /dev/null        ${r.catMBps} MB/s`);
  console.log(`  full backup                  ${r.fullBackupMBps} MB/s (${r.fullBackupSeconds} s, stored ${(r.fullStoredBytes / MiB).toFixed(1)} MiB)`);
  console.log(
    `  incremental, 1% changed      ${r.incrementalSeconds} s = ${r.incrementalOverFull}× the full backup (raw: compare; read ${(r.incrementalReadBytes / MiB).toFixed(1)} MiB, stored ${(r.incrementalStoredBytes / MiB).toFixed(1)} MiB)`,
  );
  const q = r.qcow2;
  console.log(`  qcow2 full backup            ${q.fullSeconds} s (adds the dirty bitmap)`);
  console.log(`  qcow2 incremental, bitmap    ${q.bitmapIncrementalSeconds} s = ${q.bitmapIncrementalOverFull}× its full backup (read ${(q.bitmapIncrementalReadBytes / MiB).toFixed(1)} MiB)`);
  console.log(`  qcow2 incremental, compare   ${q.compareIncrementalSeconds} s = ${q.compareIncrementalOverFull}× its full backup (read ${(q.compareIncrementalReadBytes / MiB).toFixed(1)} MiB)`);
  console.log(`  restore                      ${r.restoreMBps} MB/s`);
  if (r.restic) console.log(`  restic backup                ${r.restic.fullMBps} MB/s (${r.restic.fullSeconds} s); incremental ${r.restic.incrementalSeconds} s`);
  else console.log('  restic                       not installed');
  for (const [k, v] of Object.entries(r.ratios)) console.log(`  ${k.padEnd(30)} ${v}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const startedAt = new Date();
  const r = await backupBench({ log: (m) => console.error(`[bench backup ${new Date().toISOString().slice(11, 19)}] ${m}`) });
  printBackupBench(r);
  const file = writeResult(ROOT, 'backup', startedAt, { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine: machineInfo(ROOT), results: r });
  console.log(`\nwritten ${file}`);
}
