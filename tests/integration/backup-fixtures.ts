/** Shared fixtures of the backup engine's integration tests: images with known bytes, repositories, independent checksums. */
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createBackupEngine, openRepository, type BackupEngine, type BackupRepository } from '../../src/node-agent/backup/index.js';
import type { ImageSource } from '../../src/node-agent/drivers/index.js';
import { withNats } from '../helpers/nats.js';
import { tempDir } from '../helpers/tmp.js';

export const run = promisify(execFile);
export const MiB = 1024 * 1024;

export async function workDir(t: ExecutionContext, prefix = 'flint-backup-'): Promise<string> {
  const dir = await tempDir(prefix);
  t.teardown(dir.cleanup);
  return dir.path;
}

/** A repository of `kind` for this test (a temp dir, or a bucket on a nats-server this test starts). */
export async function repository(t: ExecutionContext, kind: 'dir' | 'nats', dir: string): Promise<{ repo: BackupRepository; nc?: NatsConnection }> {
  if (kind === 'dir') return { repo: await openRepository(`dir:${join(dir, 'repo')}`, { dataDir: dir }) };
  const server = await withNats({ t });
  const nc = await connect({ servers: server.url });
  t.teardown(() => nc.close());
  return { repo: await openRepository('nats:backups', { nats: nc, dataDir: dir }), nc };
}

export function engine(repo: BackupRepository, chunkSize?: number): BackupEngine {
  return createBackupEngine(repo, { chunkSize, workers: 2 });
}

export interface Write {
  offset: number;
  data: Buffer;
}

/** A sparse raw image of `size` bytes holding `writes` (holes elsewhere). */
export async function rawImage(path: string, size: number, writes: Write[]): Promise<ImageSource> {
  const fh = await fs.open(path, 'w');
  try {
    await fh.truncate(size);
    for (const w of writes) await fh.write(w.data, 0, w.data.length, w.offset);
  } finally {
    await fh.close();
  }
  return { path, format: 'raw', sizeBytes: size };
}

/** Overwrites parts of an existing raw image. */
export async function patchRaw(path: string, writes: Write[]): Promise<void> {
  const fh = await fs.open(path, 'r+');
  try {
    for (const w of writes) await fh.write(w.data, 0, w.data.length, w.offset);
  } finally {
    await fh.close();
  }
}

/** Several patterns: random, compressible text, written zeros, holes, a write across a chunk boundary, data in the last (short) chunk. */
export function patterns(size: number, chunk: number): Write[] {
  return [
    { offset: 0, data: randomBytes(3 * MiB) },
    { offset: 5 * MiB, data: Buffer.alloc(2 * MiB, 'flint backup compressible text; ') },
    { offset: 13 * MiB, data: Buffer.alloc(MiB) }, // allocated zeros (chunk 12-16 MiB holds nothing else): read, never stored
    { offset: 2 * chunk - 4096, data: randomBytes(8192 + 17) },
    { offset: 4 * chunk + 12345, data: Buffer.alloc(70_000, 0x5a) },
    { offset: size - 3000, data: randomBytes(3000) },
  ];
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(b as Buffer);
  return h.digest('hex');
}

/** The guest-visible bytes of an image (or one of its snapshots) as a raw file, through qemu-img convert. */
export async function toRaw(image: ImageSource, out: string): Promise<string> {
  const snap = image.snapshotName ? ['-l', `snapshot.name=${image.snapshotName}`] : [];
  await run('qemu-img', ['convert', '-f', image.format, ...snap, '-O', 'raw', image.path, out]);
  return out;
}

/** sha256 of an image's bytes, read through qemu-img convert to raw. */
export async function imageSha256(image: ImageSource, scratch: string): Promise<string> {
  const out = await toRaw(image, scratch);
  try {
    return await sha256File(out);
  } finally {
    await fs.rm(out, { force: true });
  }
}

/** The manifest's volume checksum recomputed here from a raw file, independently of the engine's code. */
export async function chunkListChecksum(rawPath: string, chunkSize: number): Promise<string> {
  const outer = createHash('sha256');
  const fh = await fs.open(rawPath, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(chunkSize);
    for (let off = 0; off < size; off += chunkSize) {
      const n = Math.min(chunkSize, size - off);
      await fh.read(buf, 0, n, off);
      outer.update(createHash('sha256').update(buf.subarray(0, n)).digest());
    }
  } finally {
    await fh.close();
  }
  return outer.digest('hex');
}

/** A new empty image of `size` bytes to restore into. */
export async function blankImage(path: string, format: 'raw' | 'qcow2', size: number): Promise<ImageSource> {
  await run('qemu-img', ['create', '-q', '-f', format, path, String(size)]);
  return { path, format, sizeBytes: size };
}
