/** Pure parts of the backup engine: manifest validation, the chunk object header, live lease hashes. */
import test from 'ava';
import { encodeHeader, parseChunk, HEADER_BYTES } from '../../../src/node-agent/backup/chunk-codec.js';
import { liveLeaseHashes } from '../../../src/node-agent/backup/lease.js';
import { validateManifest } from '../../../src/node-agent/backup/manifest.js';

const h = (c: string): string => c.repeat(64);
const good = {
  format: 'flint-backup/1',
  backupId: 'b-1',
  volumeId: 'v1',
  sizeBytes: 10 * 1024,
  chunkSize: 4096,
  entries: [
    { offset: 0, length: 4096, hash: h('a') },
    { offset: 8192, length: 2048, hash: h('b') },
  ],
  sha256: h('c'),
  parentId: null,
  codec: 'lz4',
  createdAt: '2026-11-25T17:00:00.000Z',
  dataBytes: 6144,
  storedBytes: 100,
  dedupBytes: 0,
  durationMs: 12,
};

test('a consistent manifest is valid', (t) => {
  const r = validateManifest(good);
  t.true(r.ok);
  t.deepEqual(r.ok ? r.manifest : null, good);
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['an unknown format', { format: 'other/2' }, /format/],
  ['a backup id with a path in it', { backupId: '../x' }, /backupId/],
  ['a bad chunk hash', { entries: [{ offset: 0, length: 4096, hash: 'XYZ' }], dataBytes: 4096 }, /entries\.0\.hash/],
  ['overlapping entries', { entries: [{ offset: 0, length: 4096, hash: h('a') }, { offset: 4000, length: 10, hash: h('b') }], dataBytes: 4106 }, /overlaps/],
  ['unordered entries', { entries: [{ offset: 8192, length: 10, hash: h('a') }, { offset: 0, length: 10, hash: h('b') }], dataBytes: 20 }, /overlaps or precedes/],
  ['an entry past the end', { entries: [{ offset: 8192, length: 4096, hash: h('a') }], dataBytes: 4096 }, /past the volume size/],
  ['an entry longer than a chunk', { entries: [{ offset: 0, length: 8192, hash: h('a') }], dataBytes: 8192 }, /longer/],
  ['dataBytes that is not the sum', { dataBytes: 1 }, /dataBytes/],
  ['a chunk size that is not a power of two', { chunkSize: 5000 }, /power of two/],
  ['a negative count', { storedBytes: -1 }, /storedBytes/],
  ['a date that is not one', { createdAt: 'yesterday' }, /createdAt/],
];
for (const [name, patch, problem] of bad) {
  test(`a manifest with ${name} is invalid, and the problem says where`, (t) => {
    const r = validateManifest({ ...good, ...patch });
    t.false(r.ok);
    t.regex(r.ok ? '' : r.problem, problem);
  });
}

test('a chunk header round-trips, and a damaged one says what is wrong', (t) => {
  const payload = Buffer.from('hello');
  const obj = Buffer.concat([encodeHeader('raw', 5, 5), payload]);
  const p = parseChunk(obj);
  t.deepEqual(typeof p === 'string' ? p : { codec: p.codec, raw: p.rawLength, payload: Buffer.from(p.payload).toString() }, { codec: 'raw', raw: 5, payload: 'hello' });
  t.regex(parseChunk(obj.subarray(0, obj.length - 1)) as string, /truncated/);
  t.regex(parseChunk(obj.subarray(0, 4)) as string, /too short/);
  const wrongMagic = Buffer.from(obj);
  wrongMagic[0] = 0;
  t.is(parseChunk(wrongMagic), 'bad header magic');
  const codec = Buffer.from(obj);
  codec[4] = 9;
  t.is(parseChunk(codec), 'unknown codec 9');
  t.is(HEADER_BYTES, 16);
});

test('live leases protect their hashes; a lease whose newest segment is stale is dropped whole', (t) => {
  const now = 1_000_000;
  const seg = (name: string, age: number, hashes: string[]) => ({ name, mtimeMs: now - age, text: JSON.stringify({ hashes }) });
  const r = liveLeaseHashes([seg('b1.0', 5000, ['x']), seg('b1.1', 10, ['y']), seg('old.0', 5000, ['z']), seg('old.1', 4000, ['w']), seg('b.2.0', 3000, ['v'])], now, 3500);
  t.deepEqual([...r.hashes].sort(), ['v', 'x', 'y']);
  t.deepEqual(r.stale.sort(), ['old.0', 'old.1']);
});
