/**
 * The bytes of a new, empty qcow2 image, as `qemu-img create -f qcow2 PATH SIZE` (qemu 7.2, no
 * `-o`) writes them: version 3 (compat=1.1), 64 KiB clusters, 16-bit refcounts, zlib
 * compression, no lazy refcounts, no extended L2 entries, no backing file, no encryption. The
 * format: qemu's docs/interop/qcow2.txt. Pure: the file driver writes what this returns
 * (file-create.ts), so a plain create needs no qemu-img process.
 *
 * qemu's layout, reproduced byte for byte:
 * - cluster 0: the header (112 bytes), the feature name table extension, the end-of-extensions mark;
 * - cluster 1: the refcount table, one entry pointing at cluster 2;
 * - cluster 2: the refcount block, refcount 1 for every cluster in use (header, table, block, L1);
 * - cluster 3 on: the L1 table, all zeros (nothing allocated), `l1_size` entries of 8 bytes;
 *   the file ends right after it (qemu does not round it up to a cluster).
 * Only the non-zero pieces are listed; the writer writes the zeros between them too, as qemu
 * does, since a hole in a metadata cluster makes qemu's later rewrite of it fail on a full disk.
 */

/** qcow2's magic, `QFI\xfb`. */
export const QCOW2_MAGIC = 0x514649fb;
/** log2 of the cluster size qemu-img picks by default (64 KiB). */
export const QCOW2_CLUSTER_BITS = 16;
export const QCOW2_CLUSTER_SIZE = 1 << QCOW2_CLUSTER_BITS;
/** log2 of the refcount width in bits (16-bit refcounts, qemu's default). */
const REFCOUNT_ORDER = 4;
/** Version 3 header with the compression type byte, padded to a multiple of 8. */
const HEADER_LENGTH = 112;
/** qemu's limit on the L1 table (QCOW_MAX_L1_SIZE): larger images are refused. */
const MAX_L1_BYTES = 32 * 1024 * 1024;
const FEATURE_NAME_TABLE = 0x6803f857;

/** The feature name table qemu 7.2 writes into every new image: [type (0 incompatible, 1 compatible, 2 autoclear), bit, name]. */
const FEATURE_NAMES: ReadonlyArray<readonly [number, number, string]> = [
  [0, 0, 'dirty bit'],
  [0, 1, 'corrupt bit'],
  [0, 2, 'external data file'],
  [0, 3, 'compression type'],
  [0, 4, 'extended L2 entries'],
  [1, 0, 'lazy refcounts'],
  [2, 0, 'bitmaps'],
  [2, 1, 'raw external data'],
];
const FEATURE_ENTRY = 48;

/** A new image: the file's length and the non-zero pieces to write into it (everything else is zeros, to be written too). */
export interface Qcow2Image {
  fileSize: number;
  l1Size: number;
  l1Offset: number;
  writes: Array<{ offset: number; bytes: Buffer }>;
}

/**
 * The image of `virtualSize` bytes; null for a size this encoder does not make (not a positive
 * multiple of 512, beyond a safe integer, or an L1 table larger than qemu allows), which the
 * caller leaves to qemu-img and its error message.
 */
export function qcow2Image(virtualSize: number): Qcow2Image | null {
  if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0 || virtualSize % 512 !== 0) return null;
  const cs = QCOW2_CLUSTER_SIZE;
  // One L2 table (a cluster of 8-byte entries) maps cs/8 clusters.
  const bytesPerL1Entry = cs * (cs / 8);
  const l1Size = Math.ceil(virtualSize / bytesPerL1Entry);
  if (l1Size * 8 > MAX_L1_BYTES) return null;
  const l1Offset = 3 * cs;
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const usedClusters = 3 + l1Clusters;

  const header = Buffer.alloc(HEADER_LENGTH + 8 + FEATURE_NAMES.length * FEATURE_ENTRY + 8);
  header.writeUInt32BE(QCOW2_MAGIC, 0);
  header.writeUInt32BE(3, 4); // version
  // 8: backing_file_offset, 16: backing_file_size: none
  header.writeUInt32BE(QCOW2_CLUSTER_BITS, 20);
  header.writeBigUInt64BE(BigInt(virtualSize), 24);
  // 32: crypt_method: none
  header.writeUInt32BE(l1Size, 36);
  header.writeBigUInt64BE(BigInt(l1Offset), 40);
  header.writeBigUInt64BE(BigInt(cs), 48); // refcount_table_offset
  header.writeUInt32BE(1, 56); // refcount_table_clusters
  // 60: nb_snapshots, 64: snapshots_offset, 72..95: incompatible, compatible, autoclear features: none
  header.writeUInt32BE(REFCOUNT_ORDER, 96);
  header.writeUInt32BE(HEADER_LENGTH, 100);
  // 104: compression_type zlib (0), then padding to 112
  let at = HEADER_LENGTH;
  header.writeUInt32BE(FEATURE_NAME_TABLE, at);
  header.writeUInt32BE(FEATURE_NAMES.length * FEATURE_ENTRY, at + 4);
  at += 8;
  for (const [type, bit, name] of FEATURE_NAMES) {
    header.writeUInt8(type, at);
    header.writeUInt8(bit, at + 1);
    header.write(name, at + 2, 46, 'ascii');
    at += FEATURE_ENTRY;
  }
  // then the end of the extensions: type 0, length 0 (the buffer's last 8 zero bytes)

  const refcountTable = Buffer.alloc(8);
  refcountTable.writeBigUInt64BE(BigInt(2 * cs));
  const refcountBlock = Buffer.alloc(usedClusters * 2);
  for (let i = 0; i < usedClusters; i++) refcountBlock.writeUInt16BE(1, i * 2);

  return {
    fileSize: l1Offset + l1Size * 8,
    l1Size,
    l1Offset,
    writes: [
      { offset: 0, bytes: header },
      { offset: cs, bytes: refcountTable },
      { offset: 2 * cs, bytes: refcountBlock },
    ],
  };
}
