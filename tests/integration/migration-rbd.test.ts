/**
 * Migration between a file pool and an rbd pool, both ways, with the agent's migration
 * commands (src/node-agent/migration.ts), real qemu-nbd and qemu-img over TCP and a real
 * Ceph cluster: the source serves its image over NBD, the destination's driver converts and
 * compares; the copy holds every byte of the source (sha256 of the whole volume).
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MIGRATION_KIND, type MigrationCopied, type MigrationExporting } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { MigrationAgent, type VolumeDriver } from '../../src/node-agent/index.js';
import { testRbdPool, type TestRbdPool } from '../helpers/ceph.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';
import { qemuWriteRbd, rbdSha256, setUpRbdDriver } from '../helpers/rbd-images.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const log = createLogger('migration-rbd-test', 'silent');
const FUTURE = new Date(Date.now() + 3600_000).toISOString();
const MiB = 1024 * 1024;

let ceph: TestRbdPool;

test.before(async () => {
  ceph = await testRbdPool();
});

test.after.always(async () => {
  await ceph?.remove();
});

async function agentFor(t: ExecutionContext, name: string, driver: VolumeDriver): Promise<MigrationAgent> {
  const dir = await tempDir(`flint-migration-rbd-${name}-`);
  t.teardown(dir.cleanup);
  const agent = new MigrationAgent({ host: name, address: '127.0.0.1', drivers: new Map([['p', driver]]), stateDir: join(dir.path, 'migrations'), log, processes: testProcesses(t) });
  t.teardown(() => agent.stopAll());
  return agent;
}

/** sha256 of every byte of a file-pool volume (converted to raw first: qcow2 has metadata). */
async function fileSha256(path: string, format: 'raw' | 'qcow2', scratch: string): Promise<string> {
  const raw = join(scratch, `sum-${Date.now()}.raw`);
  await run('qemu-img', ['convert', '-U', '-f', format, '-O', 'raw', path, raw]);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(raw)) hash.update(chunk as Buffer);
  await fs.rm(raw);
  return hash.digest('hex');
}

/** Exports `volumeId` from `src`, imports it into `dst`, cleans up the source (deleting its image). */
async function migrate(t: ExecutionContext, src: MigrationAgent, dst: MigrationAgent, volumeId: string, operationId: string): Promise<MigrationCopied> {
  const exp = await src.export({ operationId, volumeId, pool: 'p', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: FUTURE });
  t.is(exp.kind, MIGRATION_KIND.exporting, JSON.stringify(exp.payload));
  const uri = (exp.payload as MigrationExporting).uri;
  const imp = await dst.import({ operationId, volumeId, pool: 'p', sizeGiB: 1, source: { host: 'src', pool: 'p', uri }, notAfter: FUTURE });
  t.is(imp.kind, MIGRATION_KIND.copied, JSON.stringify(imp.payload));
  const cleaned = await src.cleanup({ operationId: `c-${operationId}`, migrationOperationId: operationId, volumeId, pool: 'p', deleteImage: true });
  t.is(cleaned.kind, MIGRATION_KIND.cleaned, JSON.stringify(cleaned.payload));
  return imp.payload as MigrationCopied;
}

test('a volume migrates from a qcow2 file pool into an rbd pool and back, with every byte', async (t) => {
  t.timeout(300_000);
  const dir = await tempDir('flint-migration-rbd-');
  t.teardown(dir.cleanup);
  const file = await setUpFileDriver(dir.path, { name: 'p', imageFormat: 'qcow2' });
  const rbd = await setUpRbdDriver(ceph, { name: 'p' });
  const onFile = await agentFor(t, 'file', file);
  const onRbd = await agentFor(t, 'rbd', rbd);

  await file.createVolume('m1', 1);
  const srcPath = file.pathOf('m1', 'qcow2');
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x42 4M 3M', '-c', 'write -q -P 0x43 700M 64k', srcPath]);
  const before = await fileSha256(srcPath, 'qcow2', dir.path);

  const intoRbd = await migrate(t, onFile, onRbd, 'm1', 'op-in');
  t.like(intoRbd, { host: 'rbd', pool: 'p', format: 'raw' });
  t.is(await rbdSha256(ceph, 'volume-m1'), before, 'the rbd image holds the file volume’s bytes');
  t.is(await file.getVolume('m1'), null, 'the source image is gone');
  const usage = await rbd.getVolume('m1');
  t.true(usage!.allocatedBytes < 64 * MiB, `the copy stays thin: ${usage!.allocatedBytes} bytes used`);

  // Written on rbd, then back to a file pool (raw this time).
  await qemuWriteRbd((await rbd.imageSource('m1')), [[100 * MiB, MiB, 0x44]]);
  const onRbdBytes = await rbdSha256(ceph, 'volume-m1');
  const rawDir = await tempDir('flint-migration-rbd-raw-');
  t.teardown(rawDir.cleanup);
  const rawFile = await setUpFileDriver(rawDir.path, { name: 'p', imageFormat: 'raw' });
  const onRawFile = await agentFor(t, 'raw', rawFile);
  const back = await migrate(t, onRbd, onRawFile, 'm1', 'op-out');
  t.like(back, { format: 'raw' });
  t.is(await fileSha256(rawFile.pathOf('m1', 'raw'), 'raw', rawDir.path), onRbdBytes, 'the file holds the rbd volume’s bytes');
  t.is(await rbd.getVolume('m1'), null, 'the rbd image is gone');
});

test.after.always('no process is left behind', noProcessesLeft);
