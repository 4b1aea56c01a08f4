/**
 * The agent's attachment commands (src/node-agent/attachments.ts) through AgentCore, with
 * a recording fake target and driver (pure: no tgt, no NATS): outcome messages, failures
 * worded for the user, redelivery replaying the recorded outcome, start-up re-export.
 */
import test from 'ava';
import { ATTACHMENT_KIND, subjects, type AgentExportAttachment, type AttachmentOutcomeEvent } from '../../../src/bus/index.js';
import { createLogger } from '../../../src/config/index.js';
import { AgentCore, DriverError, MemoryOutcomeStore, type ImageSource, type VolumeDriver } from '../../../src/node-agent/index.js';
import { AttachmentHandler } from '../../../src/node-agent/attachments.js';
import { SecretBox } from '../../../src/domain/secret-box.js';
import type { ConnectionData, ExportRequest, Target } from '../../../src/node-agent/targets/index.js';

class FakeTarget implements Target {
  constructor(readonly kind: 'iscsi' | 'nbd' = 'iscsi') {}
  readonly calls: string[] = [];
  readonly exports = new Map<string, ExportRequest>();
  fail: Error | undefined;
  async setup(): Promise<void> {}
  async export(req: ExportRequest): Promise<ConnectionData> {
    this.calls.push(`export ${req.attachmentId}`);
    if (this.fail) throw this.fail;
    this.exports.set(req.attachmentId, req);
    return { driverVolumeType: 'iscsi', targetIqn: `iqn.2026-11.test:${req.attachmentId}`, targetPortal: '127.0.0.1:3260', targetLun: 1, accessMode: req.mode, discard: true };
  }
  async unexport(id: string): Promise<void> {
    this.calls.push(`unexport ${id}`);
    if (this.fail) throw this.fail;
    this.exports.delete(id);
  }
  async refreshSize(id: string): Promise<void> {
    this.calls.push(`refresh ${id}`);
  }
  async growWhileExported<T>(_id: string, grow: () => Promise<T>): Promise<T> {
    return grow();
  }
  async list(): Promise<string[]> {
    return [...this.exports.keys()];
  }
  async reconcile(wanted: readonly ExportRequest[]): Promise<void> {
    this.calls.push(`reconcile ${wanted.map((w) => w.attachmentId).join(',')}`);
    this.exports.clear();
    for (const w of wanted) this.exports.set(w.attachmentId, w);
  }
  async shutdown(): Promise<void> {}
}

const KEY = new SecretBox(Buffer.alloc(32, 7), '/etc/flint/secret.key');
const OTHER_KEY = new SecretBox(Buffer.alloc(32, 9), '/other/secret.key');

const image: ImageSource = { path: '/pool/v1.raw', format: 'raw', sizeBytes: 1 << 30 };
const driver = { imageSource: async (id: string) => (id === 'v1' ? image : Promise.reject(new DriverError(`no volume ${id}`))) } as unknown as VolumeDriver;

function setup(targetUnavailable?: string, poolTargets?: ReadonlyMap<string, ReadonlyArray<'iscsi' | 'nbd'>>, secrets: SecretBox = KEY) {
  const target = new FakeTarget();
  const emitted: Array<{ subject: string; kind: string; payload: AttachmentOutcomeEvent; msgId: string }> = [];
  const log = createLogger('test', 'silent');
  const handler = new AttachmentHandler({
    host: 'h1',
    drivers: new Map([['p1', driver]]),
    targets: new Map([['iscsi', targetUnavailable ? { unavailable: targetUnavailable } : target]]),
    ...(poolTargets ? { poolTargets } : {}),
    log,
    secrets,
  });
  const core = new AgentCore({
    host: 'h1',
    availabilityZone: 'nova',
    drivers: new Map([['p1', driver]]),
    maxAttempts: 3,
    outcomes: new MemoryOutcomeStore(),
    emit: async (subject, kind, payload, msgId) => void emitted.push({ subject, kind, payload: payload as AttachmentOutcomeEvent, msgId }),
    log,
    attachments: handler,
  });
  return { target, emitted, core, handler };
}

const exportCmd: AgentExportAttachment = {
  operationId: 'op1',
  attachmentId: 'a1',
  volumeId: 'v1',
  pool: 'p1',
  targetKind: 'iscsi',
  mode: 'ro',
  initiator: 'iqn.2026-11.test:c1',
  chap: { username: 'flint-a1', password: 'secret-secret-1' },
};

test('export_attachment exports the image with the initiator, CHAP and mode, and emits export.succeeded with the connection', async (t) => {
  const { target, emitted, core } = setup();
  await core.handle('export_attachment', exportCmd);
  const req = target.exports.get('a1')!;
  t.deepEqual(req, { attachmentId: 'a1', volumeId: 'v1', image, mode: 'ro', initiator: 'iqn.2026-11.test:c1', chap: { username: 'flint-a1', password: 'secret-secret-1' } });
  t.is(emitted.length, 1);
  t.is(emitted[0]!.subject, subjects.agentEvent('h1', 'attachment', 'a1'));
  t.is(emitted[0]!.kind, ATTACHMENT_KIND.attachmentOutcome);
  t.is(emitted[0]!.msgId, 'op1:export.succeeded');
  t.is(emitted[0]!.payload.outcome, 'export.succeeded');
  t.is(emitted[0]!.payload.connection?.driverVolumeType, 'iscsi');
});

test('a redelivered export replays the recorded outcome without touching the target again', async (t) => {
  const { target, emitted, core } = setup();
  await core.handle('export_attachment', exportCmd);
  await core.handle('export_attachment', exportCmd);
  t.deepEqual(target.calls, ['export a1']);
  t.is(emitted.length, 2);
  t.deepEqual(emitted[1], emitted[0]);
});

test('a failed export emits export.failed with a message saying what to do', async (t) => {
  const { target, emitted, core } = setup();
  target.fail = new Error('tgtadm: target busy');
  await core.handle('export_attachment', exportCmd);
  const e = emitted[0]!.payload;
  t.is(e.outcome, 'export.failed');
  t.is(e.error?.code, 'INTERNAL');
  t.regex(e.error!.message, /tgtadm: target busy/);
  t.regex(e.error!.message, /ERROR_ATTACHING: delete it and attach again/);
});

test('an unknown pool or a missing image fails the export; an unavailable target says why', async (t) => {
  const a = setup();
  await a.core.handle('export_attachment', { ...exportCmd, pool: 'nope' });
  t.regex(a.emitted[0]!.payload.error!.message, /pool nope is not configured on host h1/);
  await a.core.handle('export_attachment', { ...exportCmd, operationId: 'op2', volumeId: 'v2' });
  t.regex(a.emitted[1]!.payload.error!.message, /no volume v2/);
  const b = setup('tgtd is not installed');
  await b.core.handle('export_attachment', exportCmd);
  t.is(b.emitted[0]!.payload.error?.code, 'BAD_USER_INPUT');
  t.regex(b.emitted[0]!.payload.error!.message, /the iscsi target of host h1 is not available: tgtd is not installed/);
});

test('unexport and refresh reach the target and emit their outcomes', async (t) => {
  const { target, emitted, core } = setup();
  await core.handle('export_attachment', exportCmd);
  await core.handle('refresh_attachment', { operationId: 'op3', attachmentId: 'a1', volumeId: 'v1', targetKind: 'iscsi' });
  await core.handle('unexport_attachment', { operationId: 'op4', attachmentId: 'a1', volumeId: 'v1', targetKind: 'iscsi' });
  t.deepEqual(target.calls, ['export a1', 'refresh a1', 'unexport a1']);
  t.deepEqual(emitted.map((e) => e.payload.outcome), ['export.succeeded', 'refresh.succeeded', 'unexport.succeeded']);
  target.fail = new Error('session busy');
  await core.handle('unexport_attachment', { operationId: 'op5', attachmentId: 'a1', volumeId: 'v1', targetKind: 'iscsi' });
  t.is(emitted[3]!.payload.outcome, 'unexport.failed');
  t.regex(emitted[3]!.payload.error!.message, /ERROR_DETACHING: delete it again to retry/);
});

test('start-up re-export hands the target exactly the wanted exports, skipping volumes whose image is gone', async (t) => {
  const { target, handler } = setup();
  const r = await handler.reconcileExports([
    { attachmentId: 'a1', volumeId: 'v1', pool: 'p1', targetKind: 'iscsi', mode: 'rw', initiator: 'iqn.2026-11.test:c1', chap: { username: 'u', password: 'pppppppppppp' } },
    { attachmentId: 'a2', volumeId: 'v2', pool: 'p1', targetKind: 'iscsi', mode: 'rw' },
  ]);
  t.deepEqual(r, { exported: 1, skipped: 1 });
  t.deepEqual(target.calls, ['reconcile a1']);
  t.deepEqual(target.exports.get('a1')?.chap, { username: 'u', password: 'pppppppppppp' });
});

test('an export of a kind the pool does not offer is refused before the target is touched', async (t) => {
  const { target, emitted, core } = setup(undefined, new Map([['p1', ['nbd'] as const]]));
  await core.handle('export_attachment', exportCmd);
  t.deepEqual(target.calls, []);
  const e = emitted[0]!.payload;
  t.is(e.outcome, 'export.failed');
  t.is(e.error?.code, 'BAD_USER_INPUT');
  t.regex(e.error!.message, /pool p1 on host h1 does not offer iscsi exports \(it offers nbd\); attach with a targetKind the pool offers/);
  const ok = setup(undefined, new Map([['p1', ['iscsi', 'nbd'] as const]]));
  await ok.core.handle('export_attachment', exportCmd);
  t.is(ok.emitted[0]!.payload.outcome, 'export.succeeded');
});

test('a sealed CHAP password is opened before it reaches the target', async (t) => {
  const { target, emitted, core } = setup();
  await core.handle('export_attachment', { ...exportCmd, chap: { username: 'flint-a1', password: KEY.seal('secret-secret-1', 'a1') } });
  t.is(emitted[0]!.payload.outcome, 'export.succeeded');
  t.deepEqual(target.exports.get('a1')?.chap, { username: 'flint-a1', password: 'secret-secret-1' });
});

test('a CHAP password sealed with another key fails the export with a message naming the key file, and the target is not touched', async (t) => {
  const { target, emitted, core } = setup(undefined, undefined, OTHER_KEY);
  await core.handle('export_attachment', { ...exportCmd, chap: { username: 'flint-a1', password: KEY.seal('secret-secret-1', 'a1') } });
  const e = emitted[0]!.payload;
  t.is(e.outcome, 'export.failed');
  t.regex(e.error!.message, /does not open with the key from \/other\/secret\.key/);
  t.regex(e.error!.message, /FLINT_SECRET_KEY_FILE/);
  t.notRegex(e.error!.message, /secret-secret-1/);
  t.deepEqual(target.calls, []);
});

test('start-up re-export opens sealed CHAP passwords and skips an attachment whose password does not open', async (t) => {
  const { target, handler } = setup();
  const r = await handler.reconcileExports([
    { attachmentId: 'a1', volumeId: 'v1', pool: 'p1', targetKind: 'iscsi', mode: 'rw', chap: { username: 'u1', password: KEY.seal('pppppppppppp', 'a1') } },
    { attachmentId: 'a3', volumeId: 'v1', pool: 'p1', targetKind: 'iscsi', mode: 'rw', chap: { username: 'u3', password: OTHER_KEY.seal('qqqqqqqqqqqq', 'a3') } },
  ]);
  t.deepEqual(r, { exported: 1, skipped: 1 });
  t.deepEqual(target.exports.get('a1')?.chap, { username: 'u1', password: 'pppppppppppp' });
  t.false(target.exports.has('a3'));
});

/** An NBD target whose export of the image is served by a daemon with a monitor while `serving` (qemu-storage-daemon for qcow2). */
class SnapshottingNbdTarget extends FakeTarget {
  serving = true;
  readonly snapshots: string[] = [];
  constructor() {
    super('nbd');
  }
  async internalSnapshot(imagePath: string, tag: string, action: 'create' | 'delete'): Promise<boolean> {
    if (!this.serving || ![...this.exports.values()].some((e) => e.image.path === imagePath)) return false;
    this.snapshots.push(`${action} ${imagePath} ${tag}`);
    return true;
  }
}

test('a snapshot of a qcow2 volume exported over NBD is taken and removed through the export; not exported, the driver takes it; no daemon serving it is a retryable error', async (t) => {
  const qcow2: ImageSource = { path: '/pool/v1.qcow2', format: 'qcow2', sizeBytes: 1 << 30 };
  const calls: string[] = [];
  const qdriver = {
    imageSource: async () => qcow2,
    createSnapshot: async (v: string, s: string) => void calls.push(`create ${v} ${s}`),
    deleteSnapshot: async (v: string, s: string) => void calls.push(`delete ${v} ${s}`),
  } as unknown as VolumeDriver;
  const nbd = new SnapshottingNbdTarget();
  const handler = new AttachmentHandler({ host: 'h1', drivers: new Map([['p1', qdriver]]), targets: new Map([['nbd', nbd]]), log: createLogger('test', 'silent'), secrets: KEY });
  const snapshots = handler.snapshotsThroughExports();

  await snapshots.create(qdriver, 'v1', 's1');
  t.deepEqual(calls, ['create v1 s1'], 'not exported: the driver takes it');
  t.deepEqual(nbd.snapshots, []);

  const core = new AgentCore({
    host: 'h1',
    availabilityZone: 'nova',
    drivers: new Map([['p1', qdriver]]),
    maxAttempts: 3,
    outcomes: new MemoryOutcomeStore(),
    emit: async () => undefined,
    log: createLogger('test', 'silent'),
    attachments: handler,
  });
  await core.handle('export_attachment', { ...exportCmd, targetKind: 'nbd', initiator: undefined, chap: undefined } as unknown as AgentExportAttachment);
  t.true(nbd.exports.has('a1'));
  await snapshots.create(qdriver, 'v1', 's2');
  await snapshots.remove(qdriver, 'v1', 's1');
  t.is(nbd.snapshots.length, 2);
  t.regex(nbd.snapshots[0]!, /^create \/pool\/v1\.qcow2 \S+$/);
  t.regex(nbd.snapshots[1]!, /^delete \/pool\/v1\.qcow2 \S+$/);
  t.deepEqual(calls, ['create v1 s1'], 'the driver was not asked while exported');

  nbd.serving = false;
  const err = await t.throwsAsync(snapshots.create(qdriver, 'v1', 's3'), { instanceOf: DriverError });
  t.regex(err!.message, /attached over NBD, but no qemu-storage-daemon serves it on this agent now, so its snapshot s3 cannot be taken through the export\. Retry once the attachment is served again/);
  t.true(err!.retryable);
  await t.throwsAsync(snapshots.remove(qdriver, 'v1', 's2'), { message: /cannot be removed/ });
  t.deepEqual(calls, ['create v1 s1'], 'the driver was not asked while exported');
});
