/**
 * What the backup end-to-end suites share: typed calls through the SDK, reading states
 * through the API (waits: tests/helpers/wait.ts), writing data into a volume's image with qemu-io and comparing images with
 * qemu-img compare.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GraphQLFormattedError } from 'graphql';
import { CreateBackupDocument, CreateVolumeDocument, OperationDocument, VolumeDocument, type CreateBackupInput, type FlintDocument } from '../../src/client/index.js';
import type { Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForBackup, waitForVolume, type BackupState, type OperationState, type VolumeState } from '../helpers/wait.js';

const run = promisify(execFile);

export type BackupRow = BackupState;
export type VolumeRow = VolumeState;
export type OperationRow = OperationState;
export type Result<T> = { data?: T | null; errors?: GraphQLFormattedError[] };

/** A typed document sent with `token`: the whole answer, its errors returned, not thrown. */
export function call<D, V>(c: Cluster, token: string, doc: FlintDocument<D, V>, variables?: V): Promise<Result<D>> {
  return c.client(token).raw(doc, variables);
}

export const code = errorCode;

export function ok<T>(r: Result<T>): T {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!;
}

export async function volume(c: Cluster, token: string, id: string): Promise<VolumeRow | null> {
  return (await c.client(token).request(VolumeDocument, { id })).volume;
}

export async function operation(c: Cluster, token: string, id: string): Promise<OperationRow> {
  const { operation: op } = await c.client(token).request(OperationDocument, { id });
  if (!op) throw new Error(`operation ${id} not found`);
  return op;
}

export async function newVolume(c: Cluster, token: string, name: string, sizeGiB = 1): Promise<string> {
  const r = await c.client(token).request(CreateVolumeDocument, { input: { name, sizeGiB } });
  await waitForVolume(c.client(token), r.createVolume.volume.id, 'AVAILABLE');
  return r.createVolume.volume.id;
}

/** Takes a backup and waits until it is AVAILABLE. */
export async function takeBackup(c: Cluster, token: string, input: CreateBackupInput): Promise<BackupRow> {
  const flint = c.client(token);
  const r = await flint.request(CreateBackupDocument, { input });
  const b = await waitForBackup(flint, r.createBackup.backup.id, (x) => x?.status !== 'CREATING', { what: `backup ${r.createBackup.backup.id} to end` });
  if (b?.status !== 'AVAILABLE') throw new Error(`backup ended ${JSON.stringify(b)}`);
  await waitForVolume(flint, String(input.volumeId), 'AVAILABLE');
  return b;
}

export function imagePath(c: Cluster, host: string, pool: string, volumeId: string): string {
  return join(c.poolDir(host, pool), `volume-${volumeId}.qcow2`);
}

/** Runs qemu-io commands (e.g. `write -P 0xaa 0 4M`) on a qcow2 image. */
export async function qemuIo(path: string, ...commands: string[]): Promise<void> {
  await run('qemu-io', ['-f', 'qcow2', ...commands.flatMap((x) => ['-c', x]), path]);
}

/** Whether two qcow2 images hold the same bytes (qemu-img compare: exit 0 same, 1 different). */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  try {
    await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', a, b]);
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 1) return false;
    throw err;
  }
}

/** Copies a qcow2 image's bytes to a new qcow2 file (a reference to compare with later). */
export async function copyImage(from: string, to: string): Promise<void> {
  await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', from, to]);
}

/** Writes `mib` MiB of random bytes at `offsetMiB` into a qcow2 image. */
export async function writeRandom(path: string, raw: string, mib: number, offsetMiB = 0): Promise<void> {
  await run('dd', ['if=/dev/urandom', `of=${raw}`, 'bs=1M', `count=${mib}`, 'status=none']);
  await run('qemu-io', ['-f', 'qcow2', '-c', `write -s ${raw} ${offsetMiB}M ${mib}M`, path]);
}

/** Chunk files in a directory repository. */
export async function chunkFiles(repo: string): Promise<string[]> {
  const out: string[] = [];
  for (const prefix of await readdir(join(repo, 'chunks')).catch(() => [] as string[])) {
    for (const name of await readdir(join(repo, 'chunks', prefix)).catch(() => [] as string[])) out.push(join(repo, 'chunks', prefix, name));
  }
  return out;
}

export function sha256Of(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}
