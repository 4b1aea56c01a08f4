/** Pure rbd change tracking of the backup engine: which snapshot to diff from (or why not), `rbd diff` output, qemu's rbd filename. */
import test from 'ava';
import { planFromBitmap } from '../../../src/node-agent/backup/change-tracking.js';
import { planChunks } from '../../../src/node-agent/backup/chunk-plan.js';
import { validateManifest } from '../../../src/node-agent/backup/manifest.js';
import { allocatedFromDiff, chooseParentSnapshot, parseRbdDiff, rbdBackupSnapshotName, staleRbdSnapshots } from '../../../src/node-agent/backup/rbd-tracking.js';

const K = 1024;
const parent = { backupId: 'p1', volumeId: 'v1', sizeBytes: 64 * K, chunkSize: 4 * K };
const base = { parent, volumeId: 'v1', sizeBytes: 64 * K, chunkSize: 4 * K };

test('the parent’s rbd snapshot is used when it exists and the parent has the same volume, size and chunk size', (t) => {
  t.is(rbdBackupSnapshotName('p1'), 'backup-p1');
  t.deepEqual(chooseParentSnapshot({ ...base, snapshots: ['snapshot-s1', 'backup-p1'] }), { use: 'backup-p1' });
});

test('no snapshot is used, with a reason, when there is no parent, its snapshot is gone, or its manifest does not fit', (t) => {
  const why = (input: Parameters<typeof chooseParentSnapshot>[0]): string => {
    const c = chooseParentSnapshot(input);
    if (c.use !== null) throw new Error(`unexpectedly chose ${c.use}`);
    return c.reason;
  };
  const ok = ['backup-p1'];
  t.regex(why({ ...base, parent: null, snapshots: ok }), /no parent backup/);
  t.regex(why({ ...base, snapshots: ['backup-other', 'snapshot-p1'] }), /no rbd snapshot backup-p1 of parent p1/);
  t.regex(why({ ...base, volumeId: 'v2', snapshots: ok }), /backup of volume v1, not v2/);
  t.regex(why({ ...base, sizeBytes: 128 * K, snapshots: ok }), /extended/);
  t.regex(why({ ...base, chunkSize: 8 * K, snapshots: ok }), /4096-byte chunks, this agent makes 8192-byte/);
});

test('stale backup snapshots are every backup snapshot but the parent’s; the volume’s own snapshots are never touched', (t) => {
  t.deepEqual(staleRbdSnapshots(['snapshot-s1', 'backup-a', 'backup-p1', 'backup-b', 'mine'], 'backup-p1'), ['backup-a', 'backup-b']);
  t.deepEqual(staleRbdSnapshots(['snapshot-s1', 'backup-a'], null), ['backup-a']);
});

test('rbd diff JSON parses with exists as a string (Pacific) or a boolean, and only existing extents are allocated', (t) => {
  const extents = parseRbdDiff('[{"offset":0,"length":4096,"exists":"true"},{"offset":8192,"length":4096,"exists":"false"},{"offset":16384,"length":512,"exists":true}]');
  t.deepEqual(extents, [
    { offset: 0, length: 4096, exists: true },
    { offset: 8192, length: 4096, exists: false },
    { offset: 16384, length: 512, exists: true },
  ]);
  t.deepEqual(allocatedFromDiff(extents), [
    { offset: 0, length: 4096 },
    { offset: 16384, length: 512 },
  ]);
  t.throws(() => parseRbdDiff('{}'), { message: /JSON list/ });
  t.throws(() => parseRbdDiff('[{"offset":"0"}]'), { message: /extent 0/ });
});

test('a discarded extent makes its chunk read again (as zeros: no entry), the untouched chunks keep the parent’s entries', (t) => {
  const allocated = planChunks([{ offset: 0, length: 8 * K }], 16 * K, 4 * K);
  const parentEntries = [0, 4, 8].map((k) => ({ offset: k * K, length: 4 * K, hash: String(k).repeat(64) }));
  const changed = parseRbdDiff('[{"offset":8192,"length":4096,"exists":"false"}]');
  const plan = planFromBitmap(allocated, changed, parentEntries, 16 * K, 4 * K);
  t.deepEqual(plan.read, []);
  t.deepEqual(plan.reuse.map((r) => r.entry.offset), [0, 4 * K]);
});

test('a manifest records rbd-diff as its change tracking', (t) => {
  const m = { format: 'flint-backup/1', backupId: 'b', volumeId: 'v', sizeBytes: 4096, chunkSize: 65536, entries: [], sha256: 'a'.repeat(64), parentId: null, codec: 'lz4', createdAt: new Date(0).toISOString(), dataBytes: 0, storedBytes: 0, dedupBytes: 0, durationMs: 1, changeTracking: 'rbd-diff' };
  const r = validateManifest(m);
  t.true(r.ok && r.manifest.changeTracking === 'rbd-diff', JSON.stringify(r));
});
