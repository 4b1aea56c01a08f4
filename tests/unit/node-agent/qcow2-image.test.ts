/** The qcow2 encoder (src/node-agent/drivers/qcow2-image.ts): the fields of the images it lays out. Its bytes against qemu-img's: tests/integration/driver-file-create.test.ts. */
import test from 'ava';
import { QCOW2_CLUSTER_SIZE, QCOW2_MAGIC, qcow2Image } from '../../../src/node-agent/drivers/qcow2-image.js';

const GiB = 1024 ** 3;
const TiB = 1024 * GiB;

function header(size: number): Buffer {
  const image = qcow2Image(size);
  if (!image) throw new Error(`no image for ${size}`);
  return image.writes.find((w) => w.offset === 0)!.bytes;
}

test('a 1 GiB image: version 3, 64 KiB clusters, 16-bit refcounts, two L1 entries at cluster 3', (t) => {
  const h = header(GiB);
  t.is(h.readUInt32BE(0), QCOW2_MAGIC);
  t.is(h.readUInt32BE(4), 3);
  t.is(h.readUInt32BE(20), 16);
  t.is(h.readBigUInt64BE(24), BigInt(GiB));
  t.is(h.readUInt32BE(32), 0, 'not encrypted');
  t.is(h.readUInt32BE(36), 2);
  t.is(h.readBigUInt64BE(40), BigInt(3 * QCOW2_CLUSTER_SIZE));
  t.is(h.readBigUInt64BE(48), BigInt(QCOW2_CLUSTER_SIZE));
  t.is(h.readUInt32BE(56), 1);
  t.is(h.readBigUInt64BE(72), 0n, 'no incompatible features (not dirty, no extended L2)');
  t.is(h.readBigUInt64BE(80), 0n, 'no lazy refcounts');
  t.is(h.readUInt32BE(96), 4);
  t.is(h.readUInt32BE(100), 112);
  t.is(h.readUInt32BE(112), 0x6803f857, 'the feature name table comes first');
  t.is(qcow2Image(GiB)!.fileSize, 3 * QCOW2_CLUSTER_SIZE + 16, 'the file ends with the L1 table');
});

test('the refcount block counts the header, the refcount table and block, and every cluster of the L1 table', (t) => {
  const refcounts = (size: number) => {
    const block = qcow2Image(size)!.writes.find((w) => w.offset === 2 * QCOW2_CLUSTER_SIZE)!.bytes;
    return Array.from({ length: block.length / 2 }, (_, i) => block.readUInt16BE(i * 2));
  };
  t.deepEqual(refcounts(GiB), [1, 1, 1, 1]);
  t.deepEqual(refcounts(4 * TiB), [1, 1, 1, 1], '8192 entries fill one cluster');
  t.deepEqual(refcounts(5 * TiB), [1, 1, 1, 1, 1], '10240 entries take two');
  const table = qcow2Image(GiB)!.writes.find((w) => w.offset === QCOW2_CLUSTER_SIZE)!.bytes;
  t.is(table.readBigUInt64BE(0), BigInt(2 * QCOW2_CLUSTER_SIZE));
});

test('the L1 table has one entry per started 512 MiB', (t) => {
  t.is(qcow2Image(512 * 1024 * 1024)!.l1Size, 1);
  t.is(qcow2Image(512 * 1024 * 1024 + 512)!.l1Size, 2);
  t.is(qcow2Image(3 * GiB)!.l1Size, 6);
});

test('sizes qemu-img must handle are refused: not a multiple of 512, zero, beyond the L1 limit', (t) => {
  t.is(qcow2Image(GiB + 1), null);
  t.is(qcow2Image(0), null);
  t.is(qcow2Image(-GiB), null);
  t.not(qcow2Image(2048 * TiB), null, '32 MiB of L1 table is the limit');
  t.is(qcow2Image(2048 * TiB + 512), null);
});
