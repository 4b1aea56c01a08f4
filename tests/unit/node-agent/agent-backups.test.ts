/**
 * AgentBackups (src/node-agent/backups.ts) driven with plain objects: a fake engine and
 * driver, an in-memory outcome store, and a list of emitted messages.
 */
import test from 'ava';
import type { BackupOutcomeEvent } from '../../../src/bus/index.js';
import { AgentBackups } from '../../../src/node-agent/backups.js';
import type { BackupEngine, BackupManifest } from '../../../src/node-agent/backup/index.js';
import { KeyedMutex } from '../../../src/node-agent/keyed-mutex.js';
import { MemoryOutcomeStore } from '../../../src/node-agent/outcome-store.js';
import type { VolumeDriver } from '../../../src/node-agent/drivers/index.js';

interface Emitted {
  subject: string;
  kind: string;
  payload: BackupOutcomeEvent;
  msgId: string;
}

function manifest(backupId: string): BackupManifest {
  return {
    format: 'flint-backup/1',
    backupId,
    volumeId: 'v1',
    sizeBytes: 1 << 20,
    chunkSize: 1 << 16,
    entries: [{ offset: 0, length: 1 << 16, hash: 'a'.repeat(64) }],
    sha256: 'b'.repeat(64),
    parentId: null,
    codec: 'lz4',
    createdAt: new Date(0).toISOString(),
    dataBytes: 1 << 16,
    storedBytes: 100,
    dedupBytes: 0,
    durationMs: 5,
  };
}

/** A fake engine whose backups wait for `release()` (or their abort signal). */
function fakeEngine() {
  let release: (() => void) | undefined;
  const calls: string[] = [];
  /** trackChanges of each backup asked for, by backup id. */
  const tracked = new Map<string, boolean | undefined>();
  const engine = {
    repository: { spec: 'dir:/x', close: async () => undefined },
    backup: (req: { backupId: string; trackChanges?: boolean; signal?: AbortSignal; onProgress?: (p: { doneBytes: number; totalBytes: number }) => void }) =>
      new Promise<BackupManifest>((resolve, reject) => {
        calls.push(`backup ${req.backupId}`);
        tracked.set(req.backupId, req.trackChanges);
        req.onProgress?.({ doneBytes: 10, totalBytes: 100 });
        release = () => resolve({ ...manifest(req.backupId), changeTracking: 'dirty-bitmap', readBytes: 4096 });
        req.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      }),
    restore: async () => undefined,
    verify: async (_id: string, _signal?: AbortSignal, onProgress?: (p: { doneBytes: number; totalBytes: number }) => void) => {
      onProgress?.({ doneBytes: 30, totalBytes: 60 });
      await new Promise((r) => setTimeout(r, 40));
      return { ok: true as const, chunks: 1 };
    },
    manifest: async () => null,
    putManifest: async () => undefined,
    deleteManifest: async (id: string) => void calls.push(`deleteManifest ${id}`),
    collectGarbage: async () => {
      calls.push('gc');
      return { deletedChunks: 0, freedBytes: 0, keptChunks: 0 };
    },
  } as unknown as BackupEngine;
  return { engine, calls, tracked, release: () => release?.() };
}

const driver = {
  imageSource: async () => ({ path: '/img', format: 'qcow2', sizeBytes: 1 << 20 }),
  createSnapshot: async () => ({ snapshotId: 's', volumeId: 'v1', sizeBytes: 1 }),
  deleteSnapshot: async () => undefined,
} as unknown as VolumeDriver;

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function setup(outcomes = new MemoryOutcomeStore(), failEmits = 0) {
  const fe = fakeEngine();
  const emitted: Emitted[] = [];
  let failures = failEmits;
  const reports: unknown[] = [];
  const backups = new AgentBackups({
    host: 'h1',
    drivers: new Map([['p', driver]]),
    engine: fe.engine,
    repository: 'dir:/x',
    outcomes,
    emit: async (subject, kind, payload, msgId) => {
      if (failures-- > 0) throw new Error(`jetstream is not enabled: no responders: '${subject}'`);
      emitted.push({ subject, kind, payload: payload as BackupOutcomeEvent, msgId });
    },
    report: (_s, _k, payload) => void reports.push(payload),
    mutex: new KeyedMutex(),
    log: silent,
    progressIntervalMs: 5,
  });
  return { backups, emitted, reports, outcomes, ...fe };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
};

test('a backup runs in the background: the command returns at once, the outcome follows with the figures, recorded before emitted', async (t) => {
  const s = setup();
  await s.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  t.deepEqual(s.emitted, [], 'nothing emitted while it runs');
  t.deepEqual(s.backups.running(), ['b1']);
  t.truthy(await s.outcomes.get('op1', 0), 'the started marker is recorded');
  await until(() => s.reports.length > 0);
  t.like(s.reports[0], { backupId: 'b1', phase: 'backup', doneBytes: 10, totalBytes: 100 });
  s.release();
  await until(() => s.emitted.length > 0);
  t.is(s.emitted[0]!.payload.outcome, 'create.succeeded');
  t.like(s.emitted[0]!.payload.figures, { sizeBytes: 1 << 20, chunkCount: 1, storedBytes: 100 });
  t.is(s.emitted[0]!.subject, 'flint.evt.agent.h1.backup.b1');
  t.deepEqual((await s.outcomes.get('op1', 1))?.payload, s.emitted[0]!.payload);
  await s.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  t.is(s.emitted.length, 2, 'a redelivery replays the recorded outcome');
  t.is(s.emitted[1]!.msgId, s.emitted[0]!.msgId);
});

// Found by the chaos suite: a NATS node killed while a backup ran left the publish of its outcome
// without a responder; the outcome was only logged, and the backup timed out to ERROR.
test('a job\'s outcome that NATS does not take at once is emitted again until it does', async (t) => {
  const s = setup(new MemoryOutcomeStore(), 2);
  await s.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  s.release();
  await until(() => s.emitted.length > 0);
  t.is(s.emitted.length, 1);
  t.is(s.emitted[0]!.payload.outcome, 'create.succeeded');
  t.deepEqual(s.backups.running(), []);
});

test('a verify reports its progress like a backup (phase verify), which keeps its deadline moving', async (t) => {
  const s = setup();
  await s.backups.handle('verify_backup', { operationId: 'op9', backupId: 'b9', volumeId: 'v1' });
  t.like(s.reports[0], { backupId: 'b9', phase: 'verify', doneBytes: 30, totalBytes: 60 });
  t.is((s.emitted.at(-1)!.payload as unknown as { outcome: string }).outcome, 'verify.succeeded');
  const n = s.reports.length;
  await new Promise((r) => setTimeout(r, 30));
  t.is(s.reports.length, n, 'no reports once the verify is over');
});

test('deleting a backup being taken cancels it: create.cancelled, then the manifest is deleted and garbage collected', async (t) => {
  const s = setup();
  await s.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  await s.backups.handle('delete_backup', { operationId: 'op2', backupId: 'b1', volumeId: 'v1' });
  t.deepEqual(s.emitted.map((e) => e.payload.outcome), ['create.cancelled', 'delete.succeeded']);
  t.deepEqual(s.calls, ['backup b1', 'deleteManifest b1', 'gc']);
  t.deepEqual(s.backups.running(), []);
});

test('an agent that stops during a backup reports nothing; the next process reports the backup lost, on redelivery or at start-up', async (t) => {
  const outcomes = new MemoryOutcomeStore();
  const first = setup(outcomes);
  await first.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  await first.backups.stop();
  t.deepEqual(first.emitted, []);

  const second = setup(outcomes);
  const n = await second.backups.recoverLost([
    { backupId: 'b1', volumeId: 'v1', status: 'creating', operationId: 'op1', restoreVolumeId: null },
    // Never started here (its command is still queued): left alone.
    { backupId: 'b2', volumeId: 'v2', status: 'creating', operationId: 'op9', restoreVolumeId: null },
  ]);
  t.is(n, 1);
  t.is(second.emitted.length, 1);
  t.is(second.emitted[0]!.payload.outcome, 'create.failed');
  t.regex(second.emitted[0]!.payload.error!.message, /stopped while it took this backup/);
  t.true(second.calls.includes('gc'), 'garbage collected at start-up');

  await second.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  t.is(second.emitted.length, 2, 'a redelivered command answers with the failure, not a new backup');
  t.is(second.emitted[1]!.payload.outcome, 'create.failed');
  t.false(second.calls.some((c) => c.startsWith('backup')));
});

test('without a repository every backup command fails saying why', async (t) => {
  const emitted: Emitted[] = [];
  const backups = new AgentBackups({
    host: 'h1',
    drivers: new Map([['p', driver]]),
    engine: null,
    engineProblem: 'dir:/nope: permission denied',
    repository: 'dir:/nope',
    outcomes: new MemoryOutcomeStore(),
    emit: async (subject, kind, payload, msgId) => void emitted.push({ subject, kind, payload: payload as BackupOutcomeEvent, msgId }),
    report: () => undefined,
    mutex: new KeyedMutex(),
    log: silent,
  });
  await backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  t.is(emitted[0]!.payload.outcome, 'create.failed');
  t.regex(emitted[0]!.payload.error!.message, /no usable backup repository \(dir:\/nope: permission denied\)/);
});

test('a delete that overtakes its create: the create is answered cancelled and never starts', async (t) => {
  const s = setup();
  await s.backups.handle('delete_backup', { operationId: 'op2', backupId: 'b1', volumeId: 'v1' });
  await s.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  t.deepEqual(s.emitted.map((e) => e.payload.outcome), ['delete.succeeded', 'create.cancelled']);
  t.false(s.calls.some((c) => c.startsWith('backup')));
  t.deepEqual(s.backups.running(), []);
});

test('only a backup of an AVAILABLE volume\'s current bytes tracks changes; the figures carry how changes were found and the bytes read', async (t) => {
  const s = setup();
  await s.backups.handle('create_backup', { operationId: 'op1', backupId: 'b1', volumeId: 'v1', pool: 'p' });
  s.release();
  await until(() => s.emitted.length === 1);
  t.like(s.emitted[0]!.payload.figures, { changeTracking: 'dirty-bitmap', readBytes: 4096 });
  await s.backups.handle('create_backup', { operationId: 'op2', backupId: 'b2', volumeId: 'v1', pool: 'p', snapshotId: 's1' });
  s.release();
  await until(() => s.emitted.length === 2);
  await s.backups.handle('create_backup', { operationId: 'op3', backupId: 'b3', volumeId: 'v1', pool: 'p', temporarySnapshot: true });
  s.release();
  await until(() => s.emitted.length === 3);
  t.deepEqual([...s.tracked], [
    ['b1', true],
    ['b2', false],
    ['b3', false],
  ]);
});
