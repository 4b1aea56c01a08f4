/**
 * Zeros written through the iSCSI export of a raw and of a qcow2 volume, next to data written
 * the same way in the same run: a guest zeroing a disk (mkfs, blkdiscard -z, a zero-filling
 * copy) sends WRITE SAME. On a thin-provisioned LUN (raw volumes: tgt's thin_provisioning=1)
 * it carries UNMAP and tgt punches a hole; without (qcow2, whose FUSE view could keep old data
 * in partly covered clusters: src/node-agent/targets/tgt-backing.ts), tgt writes the zeros 512
 * bytes at a time and the volume is no longer thin. Also checks that the zeros read back as
 * zeros (not the data they overwrote) and how much of the range the image still allocates.
 *
 *   node dist/bench/attach-zeros.js [--size-mib 256]
 *
 * `attachZeros()` is exported for bench/run.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ProcessGroup } from '../src/lifecycle/index.js';
import { freePort } from '../src/net/free-port.js';
import { createTargets, type IscsiConnection } from '../src/node-agent/targets/index.js';
import { setUpFileDriver } from '../tests/helpers/file-pool.js';
import { iscsiImageOpts } from '../tests/helpers/iscsi.js';
import { round } from './stats.js';

const execFileAsync = promisify(execFile);

export interface AttachZerosResult {
  format: 'raw' | 'qcow2';
  sizeBytes: number;
  /** MB/s of writing a pattern over the range (the data baseline). */
  dataMBps: number;
  /** MB/s of writing zeros over the same range (write-zeroes, unmap allowed). */
  zerosMBps: number;
  /** Whether the target said it passes discards down (connectionInfo.discard). */
  discard: boolean;
  /** Bytes of the range the image still allocates after the zeros. */
  allocatedAfter: number;
  /** Whether the range reads back as zeros through the target. */
  readsZeros: boolean;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return (performance.now() - t0) / 1000;
}

/** Both formats, one after the other. */
export async function attachZeros(options: { sizeMiB?: number } = {}): Promise<AttachZerosResult[]> {
  const sizeBytes = (options.sizeMiB ?? 256) * 1024 ** 2;
  return [await zerosOf('raw', sizeBytes), await zerosOf('qcow2', sizeBytes)];
}

async function zerosOf(format: 'raw' | 'qcow2', sizeBytes: number): Promise<AttachZerosResult> {
  const dir = await mkdtemp(join(tmpdir(), 'flint-bench-zeros-'));
  const processes = new ProcessGroup('attach-zeros bench');
  const nbdFirst = await freePort();
  const targets = createTargets({ host: 'bench', address: '127.0.0.1', stateDir: join(dir, 'state'), iscsiPort: await freePort(), nbdPortRange: [nbdFirst, nbdFirst + 1], processes });
  const iscsi = targets.get('iscsi')!;
  try {
    const driver = await setUpFileDriver(dir, { name: 'bench', imageFormat: format });
    await driver.createVolume('zeros', 1);
    const image = await driver.imageSource('zeros');
    await iscsi.setup();
    const chap = { username: 'bench-user', password: 'bench-secret-123' };
    const initiator = 'iqn.2026-11.io.flint.bench:zeros';
    const c = (await iscsi.export({ volumeId: 'zeros', image, mode: 'rw', attachmentId: 'bench-zeros', initiator, chap })) as IscsiConnection;
    // discard=unmap: the initiator may unmap on write-zeroes, as a guest's block layer does.
    const opts = `${iscsiImageOpts({ ...c, ...chap, initiator })},discard=unmap`;
    const io = (cmd: string) => execFileAsync('qemu-io', ['--image-opts', opts, '-c', cmd], { maxBuffer: 1 << 20 });
    const dataS = await timed(() => io(`write -P 0x5a 0 ${sizeBytes}`));
    const zerosS = await timed(() => io(`write -z -u 0 ${sizeBytes}`));
    const readsZeros = await execFileAsync('qemu-io', ['-r', '--image-opts', opts, '-c', `read -P 0 0 ${sizeBytes}`], { maxBuffer: 1 << 20 }).then(
      ({ stdout }) => !/verification failed/i.test(stdout),
      (err: unknown) => {
        console.error(`attach-zeros: the read back failed: ${(err as Error).message}`);
        return false;
      },
    );
    await iscsi.unexport('bench-zeros');
    const { stdout } = await execFileAsync('qemu-img', ['map', '--output=json', '-f', format, image.path]);
    const extents = JSON.parse(stdout) as { start: number; length: number; data: boolean; zero: boolean }[];
    const allocatedAfter = extents.filter((e) => e.data && !e.zero && e.start < sizeBytes).reduce((n, e) => n + Math.min(e.length, sizeBytes - e.start), 0);
    return { format, sizeBytes, dataMBps: round(sizeBytes / 1e6 / dataS, 1), zerosMBps: round(sizeBytes / 1e6 / zerosS, 1), discard: c.discard, allocatedAfter, readsZeros };
  } finally {
    await iscsi.shutdown().catch((err: unknown) => console.error(`attach-zeros cleanup: ${(err as Error).message}`));
    await processes.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatAttachZeros(results: readonly AttachZerosResult[]): string {
  const mib = (results[0]?.sizeBytes ?? 0) / 1024 ** 2;
  const lines = [`zeros over iSCSI (${mib} MiB over data written first; qemu-io through libiscsi, write -P then write -z -u), MB/s:`];
  for (const r of results) {
    lines.push(
      `  ${r.format.padEnd(6)} data ${String(r.dataMBps).padStart(7)}  zeros ${String(r.zerosMBps).padStart(7)} (${round(r.zerosMBps / r.dataMBps, 2)}× data)  thin LUN: ${r.discard ? 'yes' : 'no '}  ` +
        `after: ${round(r.allocatedAfter / 1024 ** 2, 1)} MiB allocated, reads back zeros: ${r.readsZeros ? 'yes' : 'NO (corruption)'}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--size-mib');
  try {
    console.log(formatAttachZeros(await attachZeros({ sizeMiB: i >= 0 ? Number(process.argv[i + 1]) : undefined })));
  } catch (err) {
    console.error(`attach-zeros failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  }
}
