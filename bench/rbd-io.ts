/**
 * Sequential write and read throughput of one RBD volume through its iSCSI export (tgt's rbd
 * backing store, reached by qemu-img through libiscsi with CHAP) next to librbd itself (qemu-img
 * on the `rbd:` file name): the floor the export is measured against, in the same run.
 *
 * Writes copy a local raw file of a non-zero pattern (so nothing can skip zeros); reads go into
 * qemu's null-co sink. The export is made by the agent's own target code (src/node-agent/targets/).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { ProcessGroup } from '../src/lifecycle/index.js';
import { freePort } from '../src/net/free-port.js';
import type { RbdDriver } from '../src/node-agent/drivers/index.js';
import { createTargets, type IscsiConnection } from '../src/node-agent/targets/index.js';
import { iscsiImageOpts } from '../tests/helpers/iscsi.js';
import { round, summarize } from './stats.js';

const run = promisify(execFile);

export interface RbdIoResult {
  sizeBytes: number;
  runs: number;
  /** Median MB/s (10^6 bytes) per path and direction. */
  iscsiWriteMBps: number;
  iscsiReadMBps: number;
  librbdWriteMBps: number;
  librbdReadMBps: number;
}

async function mbps(sizeBytes: number, runs: number, fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(round(sizeBytes / 1e6 / ((performance.now() - t0) / 1000), 1));
  }
  return summarize(samples).p50;
}

/** Measures volume `rio` of `driver` (made and removed here) in `dir`. */
export async function rbdIo(driver: RbdDriver, dir: string, opts: { sizeGiB?: number; runs?: number } = {}): Promise<RbdIoResult> {
  const sizeGiB = opts.sizeGiB ?? 1;
  const runs = opts.runs ?? 3;
  const sizeBytes = sizeGiB * 1024 ** 3;
  const data = join(dir, 'rbd-io.raw');
  await run('qemu-img', ['create', '-q', '-f', 'raw', data, String(sizeBytes)]);
  await run('qemu-io', ['-f', 'raw', '-c', `write -P 0x5a 0 ${sizeBytes}`, data], { maxBuffer: 1 << 20 });
  await driver.createVolume('rio', sizeGiB);
  const processes = new ProcessGroup('rbd-io bench');
  const nbdFirst = await freePort();
  const targets = createTargets({ host: 'bench', address: '127.0.0.1', stateDir: join(dir, 'state'), iscsiPort: await freePort(), nbdPortRange: [nbdFirst, nbdFirst + 4], processes });
  const iscsi = targets.get('iscsi')!;
  try {
    await iscsi.setup();
    const image = await driver.imageSource('rio');
    const chap = { username: 'bench-user', password: 'bench-secret-123' };
    const initiator = 'iqn.2026-12.io.flint.bench:rbd';
    const c = (await iscsi.export({ volumeId: 'rio', image, mode: 'rw', attachmentId: 'bench-rbd-iscsi', initiator, chap })) as IscsiConnection;
    const opts = iscsiImageOpts({ ...c, ...chap, initiator });
    const sink = `driver=null-co,size=${sizeBytes}`;
    return {
      sizeBytes,
      runs,
      librbdWriteMBps: await mbps(sizeBytes, runs, () => run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', data, image.path])),
      librbdReadMBps: await mbps(sizeBytes, runs, () => run('qemu-img', ['convert', '-n', '-f', 'raw', image.path, '--target-image-opts', sink])),
      iscsiWriteMBps: await mbps(sizeBytes, runs, () => run('qemu-img', ['convert', '-n', '-f', 'raw', data, '--target-image-opts', opts])),
      iscsiReadMBps: await mbps(sizeBytes, runs, () => run('qemu-img', ['convert', '-n', '--image-opts', opts, '--target-image-opts', sink])),
    };
  } finally {
    await iscsi.shutdown().catch(() => undefined);
    await processes.close();
    await driver.deleteVolume('rio');
  }
}

export function formatRbdIo(r: RbdIoResult): string {
  const ratio = (a: number, b: number) => `${round(a / b, 2)}× librbd`;
  return [
    `sequential I/O of a ${r.sizeBytes / 1024 ** 3} GiB rbd volume, median of ${r.runs} (MB/s):`,
    `  librbd (qemu-img on rbd:)       write ${r.librbdWriteMBps}   read ${r.librbdReadMBps}`,
    `  iSCSI through tgt-rbd           write ${r.iscsiWriteMBps} (${ratio(r.iscsiWriteMBps, r.librbdWriteMBps)})   read ${r.iscsiReadMBps} (${ratio(r.iscsiReadMBps, r.librbdReadMBps)})`,
  ].join('\n');
}
