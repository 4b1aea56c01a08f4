/**
 * The agent's migration commands (src/node-agent/migration.ts) with real file drivers,
 * real qemu-nbd and qemu-img over TCP: export on one "host", import on another, cleanup,
 * refusals past the deadline, and start-up reconciliation of an export left by a crash.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FilePoolConfig } from '../../src/config/index.js';
import { MIGRATION_KIND, type MigrationCleaned, type MigrationCopied, type MigrationExporting, type MigrationFailed, type MigrationProgress } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { FileDriver, MigrationAgent } from '../../src/node-agent/index.js';
import { setUpFileDriver } from '../helpers/file-pool.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft, testProcesses } from '../helpers/processes.js';

const run = promisify(execFile);
const log = createLogger('migration-test', 'silent');
const FUTURE = new Date(Date.now() + 3600_000).toISOString();
const GiB = 1024 ** 3;

interface Host {
  agent: MigrationAgent;
  driver: FileDriver;
  pool: FilePoolConfig;
  stateDir: string;
  /** The progress reports the agent published. */
  reports: MigrationProgress[];
}

async function host(t: ExecutionContext, name: string, imageFormat: 'raw' | 'qcow2'): Promise<Host> {
  const dir = await tempDir(`flint-migration-${name}-`);
  t.teardown(dir.cleanup);
  const driver = await setUpFileDriver(dir.path, { name: 'p', imageFormat });
  const stateDir = join(dir.path, 'migrations');
  const reports: MigrationProgress[] = [];
  const agent = new MigrationAgent({
    host: name,
    address: '127.0.0.1',
    drivers: new Map([['p', driver]]),
    stateDir,
    log,
    report: (subject, _kind, payload) => void reports.push({ ...payload, subject } as MigrationProgress),
    progressIntervalMs: 0,
    processes: testProcesses(t),
  });
  t.teardown(() => agent.stopAll());
  return { agent, driver, pool: driver.pool, stateDir, reports };
}

const alive = async (pid: number) => (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).startsWith('qemu-nbd');

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!(await alive(pid))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const pidOf = async (h: Host, operationId: string) => (JSON.parse(await fs.readFile(join(h.stateDir, `${operationId}.json`), 'utf8')) as { pid: number }).pid;

test('export on one host, import on another: a verified copy in the destination\'s format, then the source cleaned up', async (t) => {
  const src = await host(t, 'src', 'qcow2');
  const dst = await host(t, 'dst', 'raw');
  await src.driver.createVolume('v1', 1);
  const srcPath = src.driver.pathOf('v1', 'qcow2');
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -q -P 0x42 4M 1M', srcPath]);

  const exp = await src.agent.export({ operationId: 'op1', volumeId: 'v1', pool: 'p', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: FUTURE });
  t.is(exp.kind, MIGRATION_KIND.exporting);
  const exporting = exp.payload as MigrationExporting;
  t.regex(exporting.uri, /^nbd:\/\/127\.0\.0\.1:\d+\/migrate-v1$/);
  t.deepEqual(exporting.destination, { host: 'dst', pool: 'p' });
  const pid = await pidOf(src, 'op1');
  t.true(await alive(pid));
  // A repeated export serves the same URI (one qemu-nbd per migration).
  t.is(((await src.agent.export({ operationId: 'op1', volumeId: 'v1', pool: 'p', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: FUTURE })).payload as MigrationExporting).uri, exporting.uri);

  const imp = await dst.agent.import({ operationId: 'op1', volumeId: 'v1', pool: 'p', sizeGiB: 1, source: { host: 'src', pool: 'p', uri: exporting.uri }, notAfter: FUTURE });
  t.is(imp.kind, MIGRATION_KIND.copied, JSON.stringify(imp.payload));
  t.like(imp.payload as MigrationCopied, { host: 'dst', pool: 'p', format: 'raw' });
  const dstPath = dst.driver.pathOf('v1', 'raw');
  await run('qemu-io', ['-r', '-f', 'raw', '-c', 'read -P 0x42 4M 1M', dstPath]);
  await run('qemu-img', ['compare', '-U', '-f', 'qcow2', '-F', 'raw', srcPath, dstPath]);
  // Progress of copy and check: growing, for this volume, ending at twice its size on its subject.
  t.true(dst.reports.length >= 2, `progress reports: ${dst.reports.length}`);
  const done = dst.reports.map((r) => r.doneBytes);
  t.deepEqual(done, [...done].sort((a, b) => a - b), 'progress only grows');
  t.like(dst.reports.at(-1), { operationId: 'op1', volumeId: 'v1', doneBytes: 2 * GiB, totalBytes: 2 * GiB, subject: 'flint.progress.agent.dst.migration.v1' });
  // Importing again is a no-op on a copy that equals the source.
  t.is((await dst.agent.import({ operationId: 'op1', volumeId: 'v1', pool: 'p', sizeGiB: 1, source: { host: 'src', pool: 'p', uri: exporting.uri }, notAfter: FUTURE })).kind, MIGRATION_KIND.copied);
  t.deepEqual((await fs.readdir(dst.pool.directory)).sort(), ['volume-v1.raw']);

  const cleaned = await src.agent.cleanup({ operationId: 'c1', migrationOperationId: 'op1', volumeId: 'v1', pool: 'p', deleteImage: true });
  t.is(cleaned.kind, MIGRATION_KIND.cleaned);
  t.like(cleaned.payload as MigrationCleaned, { deletedImage: true, error: undefined });
  t.true(await gone(pid), 'the export stopped');
  t.is(await src.driver.getVolume('v1'), null);
  t.deepEqual(await fs.readdir(src.stateDir), []);
});

test('an import from an export that is gone fails and leaves nothing in the pool', async (t) => {
  const src = await host(t, 'src', 'raw');
  const dst = await host(t, 'dst', 'qcow2');
  await src.driver.createVolume('v2', 1);
  const exp = await src.agent.export({ operationId: 'op2', volumeId: 'v2', pool: 'p', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: FUTURE });
  const uri = (exp.payload as MigrationExporting).uri;
  await src.agent.cleanup({ operationId: 'c2', migrationOperationId: 'op2', volumeId: 'v2', pool: 'p', deleteImage: false });
  t.truthy(await src.driver.getVolume('v2'), 'a cleanup without deleteImage keeps the image');

  const imp = await dst.agent.import({ operationId: 'op2', volumeId: 'v2', pool: 'p', sizeGiB: 1, source: { host: 'src', pool: 'p', uri }, notAfter: FUTURE });
  t.is(imp.kind, MIGRATION_KIND.failed);
  t.like(imp.payload as MigrationFailed, { stage: 'import', host: 'dst', destination: { host: 'dst', pool: 'p' } });
  t.regex((imp.payload as MigrationFailed).error.message, /could not import volume v2/);
  t.deepEqual(await fs.readdir(dst.pool.directory), [], 'no image and no temporary file');
});

test('commands past the migration\'s deadline are refused without touching anything', async (t) => {
  const src = await host(t, 'src', 'qcow2');
  await src.driver.createVolume('v3', 1);
  const past = new Date(Date.now() - 1000).toISOString();
  const exp = await src.agent.export({ operationId: 'op3', volumeId: 'v3', pool: 'p', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: past });
  t.is(exp.kind, MIGRATION_KIND.failed);
  t.regex((exp.payload as MigrationFailed).error.message, /deadline passed/);
  t.deepEqual(await fs.readdir(src.stateDir).catch(() => []), [], 'no export was started');
  const imp = await src.agent.import({ operationId: 'op4', volumeId: 'v9', pool: 'p', sizeGiB: 1, source: { host: 'x', pool: 'p', uri: 'nbd://127.0.0.1:1/x' }, notAfter: past });
  t.is(imp.kind, MIGRATION_KIND.failed);
});

test('an export of a missing volume, or on an unknown pool, fails the export stage', async (t) => {
  const src = await host(t, 'src', 'qcow2');
  const missing = await src.agent.export({ operationId: 'op5', volumeId: 'nope', pool: 'p', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: FUTURE });
  t.like(missing.payload as MigrationFailed, { stage: 'export', error: { code: 'BAD_USER_INPUT' } });
  const unknown = await src.agent.export({ operationId: 'op6', volumeId: 'nope', pool: 'zz', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: FUTURE });
  t.regex((unknown.payload as MigrationFailed).error.message, /pool zz is not configured on host src/);
});

test('a restarted agent stops the qemu-nbd its previous run left serving', async (t) => {
  const src = await host(t, 'src', 'qcow2');
  await src.driver.createVolume('v7', 1);
  await src.agent.export({ operationId: 'op7', volumeId: 'v7', pool: 'p', sizeGiB: 1, destination: { host: 'dst', pool: 'p' }, notAfter: FUTURE });
  const pid = await pidOf(src, 'op7');
  t.true(await alive(pid));
  // A new process on the same state directory (the old one died without stopping its exports).
  const again = new MigrationAgent({ host: 'src', address: '127.0.0.1', drivers: new Map([['p', src.driver]]), stateDir: src.stateDir, log, processes: testProcesses(t) });
  t.is(await again.reconcile(), 1);
  t.true(await gone(pid), 'the stray qemu-nbd is gone');
  t.deepEqual(await fs.readdir(src.stateDir), []);
  t.is(await again.reconcile(), 0, 'nothing left the second time');
});

test.after.always('no process is left behind', noProcessesLeft);
