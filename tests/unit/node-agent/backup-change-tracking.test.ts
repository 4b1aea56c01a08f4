/** Pure change tracking of the backup engine: which bitmap to use (or why not), which chunks to read, qemu-img's bitmap list. */
import test from 'ava';
import { chooseParentBitmap, planFromBitmap, staleBitmaps, touchedChunks } from '../../../src/node-agent/backup/change-tracking.js';
import { planChunks } from '../../../src/node-agent/backup/chunk-plan.js';
import { validateManifest } from '../../../src/node-agent/backup/manifest.js';
import { backupBitmapName, parseBitmaps } from '../../../src/node-agent/drivers/qcow2-bitmaps.js';

const K = 1024;
const h = (c: string): string => c.repeat(64);
const parent = { backupId: 'p1', volumeId: 'v1', sizeBytes: 64 * K, chunkSize: 4 * K };
const base = { parent, volumeId: 'v1', sizeBytes: 64 * K, chunkSize: 4 * K };

test('the parent bitmap is used when it exists, is enabled, consistent, and the parent has the same size and chunk size', (t) => {
  t.deepEqual(chooseParentBitmap({ ...base, bitmaps: [{ name: 'flint-backup-p1', flags: ['auto'] }] }), { use: 'flint-backup-p1' });
});

test('no bitmap is used, with a reason, for each way the parent bitmap cannot be trusted', (t) => {
  const why = (input: Parameters<typeof chooseParentBitmap>[0]): string => {
    const c = chooseParentBitmap(input);
    if (c.use !== null) throw new Error(`unexpectedly chose ${c.use}`);
    return c.reason;
  };
  const ok = [{ name: 'flint-backup-p1', flags: ['auto'] }];
  t.regex(why({ ...base, parent: null, bitmaps: ok }), /no parent backup/);
  t.regex(why({ ...base, bitmaps: [{ name: 'flint-backup-other', flags: ['auto'] }] }), /no bitmap for parent p1/);
  t.regex(why({ ...base, bitmaps: [{ name: 'flint-backup-p1', flags: ['in-use', 'auto'] }] }), /in-use.*missed writes/);
  t.regex(why({ ...base, bitmaps: [{ name: 'flint-backup-p1', flags: [] }] }), /disabled/);
  t.regex(why({ ...base, volumeId: 'v2', bitmaps: ok }), /backup of volume v1, not v2/);
  t.regex(why({ ...base, sizeBytes: 128 * K, bitmaps: ok }), /extended/);
  t.regex(why({ ...base, chunkSize: 8 * K, bitmaps: ok }), /4096-byte chunks, this agent makes 8192-byte/);
});

test('every Flint bitmap but the parent one in use is stale; foreign bitmaps are never touched', (t) => {
  const bitmaps = [
    { name: 'flint-backup-p1', flags: ['auto'] },
    { name: 'flint-backup-crashed', flags: ['auto'] },
    { name: 'flint-backup-broken', flags: ['in-use', 'auto'] },
    { name: 'user-bitmap', flags: ['auto'] },
  ];
  t.deepEqual(staleBitmaps(bitmaps, 'flint-backup-p1'), ['flint-backup-crashed', 'flint-backup-broken']);
  t.deepEqual(staleBitmaps(bitmaps, null), ['flint-backup-p1', 'flint-backup-crashed', 'flint-backup-broken']);
  t.is(backupBitmapName('b-9'), 'flint-backup-b-9');
});

test('a chunk is dirty when any of its bytes is, and ranges past the end are clipped', (t) => {
  t.deepEqual(
    [...touchedChunks([{ offset: 4 * K - 1, length: 2 }, { offset: 20 * K, length: 1 }, { offset: 62 * K, length: 10 * K }], 64 * K, 4 * K)].sort((a, b) => a - b),
    [0, 4 * K, 20 * K, 60 * K],
  );
  t.is(touchedChunks([], 64 * K, 4 * K).size, 0);
});

test('only dirty allocated chunks are read; clean chunks take the parent entry or stay zero', (t) => {
  const size = 40 * K;
  const cs = 8 * K;
  // Allocated: chunks 0, 8K, 24K, 32K (the last one short: 40K is a multiple here, so 8K).
  const allocated = planChunks(
    [
      { offset: 0, length: 12 * K },
      { offset: 26 * K, length: 14 * K },
    ],
    size,
    cs,
  );
  const parentEntries = [
    { offset: 0, length: cs, hash: h('a') },
    { offset: 8 * K, length: cs, hash: h('b') },
    { offset: 16 * K, length: cs, hash: h('c') }, // now unallocated but clean: a bitmap says so, the parent's bytes stand
    { offset: 32 * K, length: cs, hash: h('d') },
  ];
  // Dirty: one byte of chunk 8K and the whole of chunk 24K.
  const plan = planFromBitmap(allocated, [{ offset: 9 * K, length: 1 }, { offset: 24 * K, length: 8 * K }], parentEntries, size, cs);
  t.deepEqual(
    plan.read.map((c) => c.offset),
    [8 * K, 24 * K],
  );
  t.deepEqual(plan.read[1]!.reads, [{ offset: 26 * K, length: 6 * K }], 'a dirty chunk is read only where allocated');
  t.deepEqual(
    plan.reuse.map((r) => [r.entry.offset, r.entry.hash]),
    [
      [0, h('a')],
      [16 * K, h('c')],
      [32 * K, h('d')],
    ],
  );
  t.deepEqual(plan.reuse[0]!.chunk, allocated[0], 'what to read should the repository have lost the parent chunk');
  t.deepEqual(plan.reuse[1]!.chunk, { offset: 16 * K, length: cs, reads: [{ offset: 16 * K, length: cs }] });
});

test('a dirty chunk with nothing allocated is neither read nor reused (zeros), and an off-grid parent entry is treated as dirty', (t) => {
  const cs = 4 * K;
  const allocated = planChunks([{ offset: 0, length: 4 * K }], 16 * K, cs);
  const plan = planFromBitmap(
    allocated,
    [{ offset: 8 * K, length: 4 * K }],
    [
      { offset: 0, length: 2 * K, hash: h('e') },
      { offset: 8 * K, length: cs, hash: h('f') },
    ],
    16 * K,
    cs,
  );
  t.deepEqual(
    plan.read.map((c) => c.offset),
    [0],
  );
  t.deepEqual(plan.reuse, []);
});

test('qemu-img info bitmaps are parsed with their flags; raw images and odd shapes give none', (t) => {
  const info = {
    'virtual-size': 1,
    format: 'qcow2',
    'format-specific': {
      type: 'qcow2',
      data: {
        compat: '1.1',
        bitmaps: [
          { flags: ['in-use', 'auto'], name: 'flint-backup-a', granularity: 65536 },
          { flags: [], name: 'x', granularity: 65536 },
          { name: 42 },
        ],
      },
    },
  };
  t.deepEqual(parseBitmaps(info), [
    { name: 'flint-backup-a', granularity: 65536, flags: ['in-use', 'auto'] },
    { name: 'x', granularity: 65536, flags: [] },
  ]);
  t.deepEqual(parseBitmaps({ format: 'raw' }), []);
  t.deepEqual(parseBitmaps(null), []);
});

test('a manifest records its change tracking, and an unknown kind is refused', (t) => {
  const m = {
    format: 'flint-backup/1',
    backupId: 'b-1',
    volumeId: 'v1',
    sizeBytes: 4096,
    chunkSize: 4096,
    entries: [],
    sha256: h('0'),
    parentId: null,
    codec: 'lz4',
    createdAt: new Date().toISOString(),
    dataBytes: 0,
    storedBytes: 0,
    dedupBytes: 0,
    durationMs: 1,
    readBytes: 0,
  };
  const r = validateManifest({ ...m, changeTracking: 'dirty-bitmap' });
  t.true(r.ok && r.manifest.changeTracking === 'dirty-bitmap');
  t.true(validateManifest(m).ok, 'older records have none');
  const bad = validateManifest({ ...m, changeTracking: 'guess' });
  t.false(bad.ok);
});
