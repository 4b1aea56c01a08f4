/** Pure chunk planning of the backup engine: grid, extents, zero ranges, diff against a parent, volume checksum. */
import test from 'ava';
import { createHash } from 'node:crypto';
import { diffAgainstParent, mergeRanges, planChunks, volumeChecksum, zeroRanges } from '../../../src/node-agent/backup/chunk-plan.js';

const K = 1024;

test('extents are cut on the fixed chunk grid and read only where allocated', (t) => {
  const plan = planChunks(
    [
      { offset: 100, length: 50 },
      { offset: 4 * K - 10, length: 20 },
      { offset: 9 * K, length: 5 * K },
    ],
    16 * K,
    4 * K,
  );
  t.deepEqual(plan, [
    { offset: 0, length: 4 * K, reads: [{ offset: 100, length: 50 }, { offset: 4 * K - 10, length: 10 }] },
    { offset: 4 * K, length: 4 * K, reads: [{ offset: 4 * K, length: 10 }] },
    { offset: 8 * K, length: 4 * K, reads: [{ offset: 9 * K, length: 3 * K }] },
    { offset: 12 * K, length: 4 * K, reads: [{ offset: 12 * K, length: 2 * K }] },
  ]);
});

test('chunks without allocated bytes are left out, and the last chunk is short', (t) => {
  const plan = planChunks([{ offset: 20 * K, length: 10 * K }], 25 * K, 8 * K);
  t.deepEqual(plan, [
    { offset: 16 * K, length: 8 * K, reads: [{ offset: 20 * K, length: 4 * K }] },
    { offset: 24 * K, length: K, reads: [{ offset: 24 * K, length: K }] },
  ]);
  t.deepEqual(planChunks([], 1 << 30, 4 * K), []);
});

test('overlapping, touching and unsorted extents are merged; parts past the end are dropped', (t) => {
  t.deepEqual(
    mergeRanges([
      { offset: 50, length: 10 },
      { offset: 0, length: 10 },
      { offset: 10, length: 5 },
      { offset: 55, length: 20 },
      { offset: 90, length: 0 },
    ]),
    [
      { offset: 0, length: 15 },
      { offset: 50, length: 25 },
    ],
  );
  t.deepEqual(planChunks([{ offset: 3 * K, length: 10 * K }], 4 * K, 4 * K), [{ offset: 0, length: 4 * K, reads: [{ offset: 3 * K, length: K }] }]);
});

test('zero ranges are the gaps between entries, cut to a maximum length', (t) => {
  t.deepEqual(
    zeroRanges(
      [
        { offset: 4, length: 4 },
        { offset: 12, length: 4 },
      ],
      30,
      8,
    ),
    [
      { offset: 0, length: 4 },
      { offset: 8, length: 4 },
      { offset: 16, length: 8 },
      { offset: 24, length: 6 },
    ],
  );
  t.deepEqual(zeroRanges([{ offset: 0, length: 10 }], 10), []);
  t.deepEqual(zeroRanges([], 5), [{ offset: 0, length: 5 }]);
});

test('the diff against a parent counts the chunks it already has and the new ones', (t) => {
  const entries = [
    { offset: 0, length: 4, hash: 'a' },
    { offset: 4, length: 4, hash: 'b' },
    { offset: 8, length: 2, hash: 'c' },
  ];
  t.deepEqual(diffAgainstParent(entries, { entries: [{ hash: 'a' }, { hash: 'c' }, { hash: 'z' }] }), { reused: 2, added: 1, reusedBytes: 6, addedBytes: 4 });
  t.deepEqual(diffAgainstParent(entries, null), { reused: 0, added: 3, reusedBytes: 0, addedBytes: 10 });
});

test('the volume checksum is the sha256 of the chunk digests, zero pieces included', (t) => {
  const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
  const data = Buffer.alloc(8, 7);
  const want = createHash('sha256')
    .update(sha(Buffer.alloc(8)))
    .update(sha(data))
    .update(sha(Buffer.alloc(3)))
    .digest('hex');
  t.is(volumeChecksum(19, 8, new Map([[8, sha(data).toString('hex')]])), want);
  t.is(volumeChecksum(0, 8, new Map()), createHash('sha256').digest('hex'));
});
