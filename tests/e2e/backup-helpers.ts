/**
 * What the backup end-to-end suites share: GraphQL documents, waiting for states through
 * the API, writing data into a volume's image with qemu-io and comparing images with
 * qemu-img compare.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gql, waitFor, type Cluster } from '../helpers/cluster.js';

const run = promisify(execFile);

export type Err = { message: string; extensions?: { code?: string } };
export type Result<T> = { data?: T; errors?: Err[] };

export interface BackupRow {
  id: string;
  name: string;
  status: string;
  volumeId: string;
  snapshotId: string | null;
  sizeGiB: number;
  sizeBytes: number | null;
  dataBytes: number | null;
  storedBytes: number | null;
  dedupBytes: number | null;
  durationSeconds: number | null;
  isIncremental: boolean;
  incrementalNote: string | null;
  parentId: string | null;
  repository: string;
  sha256: string | null;
  chunkCount: number | null;
  version: number;
  parent: { id: string } | null;
  messages: Array<{ event: string; message: string }>;
}

export interface VolumeRow {
  id: string;
  status: string;
  sizeGiB: number;
  messages: Array<{ event: string; message: string }>;
}

export interface OperationRow {
  id: string;
  kind: string;
  status: string;
  error: { code: string; message: string } | null;
}

export const BACKUP = 'id name status volumeId snapshotId sizeGiB sizeBytes dataBytes storedBytes dedupBytes durationSeconds isIncremental incrementalNote parentId repository sha256 chunkCount version parent { id } messages { event message }';
export const CREATE_BACKUP = `mutation($input: CreateBackupInput!) { createBackup(input: $input) { backup { ${BACKUP} } operation { id kind status } } }`;
export const RESTORE_BACKUP = `mutation($input: RestoreBackupInput!) { restoreBackup(input: $input) { backup { id status } volume { id status sizeGiB } operation { id kind status } } }`;
export const DELETE_BACKUP = `mutation($input: DeleteBackupInput!) { deleteBackup(input: $input) { backup { id status } operation { id kind status } } }`;
export const VERIFY_BACKUP = `mutation($input: VerifyBackupInput!) { verifyBackup(input: $input) { backup { id status } operation { id kind status } } }`;
export const PROGRESS = `subscription($id: ID!) { backupProgress(id: $id) { backupId status phase doneBytes totalBytes percent bytesPerSecond at } }`;

export interface ProgressRow {
  backupId: string;
  status: string;
  phase: string;
  doneBytes: number;
  totalBytes: number;
  percent: number;
  bytesPerSecond: number;
  at: string;
}

export async function call<T>(c: Cluster, token: string, query: string, variables?: Record<string, unknown>): Promise<Result<T>> {
  return (await gql(c.url, token, query, variables)) as Result<T>;
}

export function code(r: Result<unknown>): string | undefined {
  return r.errors?.[0]?.extensions?.code;
}

export function ok<T>(r: Result<T>): T {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!;
}

export async function backup(c: Cluster, token: string, id: string): Promise<BackupRow | null> {
  return ok(await call<{ backup: BackupRow | null }>(c, token, `query($id: ID!) { backup(id: $id) { ${BACKUP} } }`, { id })).backup;
}

export async function volume(c: Cluster, token: string, id: string): Promise<VolumeRow | null> {
  return ok(await call<{ volume: VolumeRow | null }>(c, token, 'query($id: ID!) { volume(id: $id) { id status sizeGiB messages { event message } } }', { id })).volume;
}

export async function operation(c: Cluster, token: string, id: string): Promise<OperationRow> {
  return ok(await call<{ operation: OperationRow }>(c, token, 'query($id: ID!) { operation(id: $id) { id kind status error { code message } } }', { id })).operation;
}

export async function untilBackup(c: Cluster, token: string, id: string, ok: (b: BackupRow | null) => boolean, what: string, ms = 60_000): Promise<BackupRow | null> {
  let last: BackupRow | null = null;
  await waitFor(async () => ok((last = await backup(c, token, id))), ms, () => `${what}; backup is ${JSON.stringify(last)}`);
  return last;
}

export async function untilVolume(c: Cluster, token: string, id: string, status: string, ms = 60_000): Promise<VolumeRow> {
  let last: VolumeRow | null = null;
  await waitFor(async () => (last = await volume(c, token, id))?.status === status, ms, () => `volume ${id} did not become ${status}; it is ${JSON.stringify(last)}`);
  return last!;
}

export async function untilOperation(c: Cluster, token: string, id: string, ms = 60_000): Promise<OperationRow> {
  let last: OperationRow | undefined;
  await waitFor(async () => ['SUCCEEDED', 'FAILED'].includes((last = await operation(c, token, id)).status), ms, () => `operation ${id} did not end: ${JSON.stringify(last)}`);
  return last!;
}

export async function newVolume(c: Cluster, token: string, name: string, sizeGiB = 1): Promise<string> {
  const r = ok(await call<{ createVolume: { volume: { id: string } } }>(c, token, 'mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } } }', { input: { name, sizeGiB } }));
  await untilVolume(c, token, r.createVolume.volume.id, 'AVAILABLE');
  return r.createVolume.volume.id;
}

/** Takes a backup and waits until it is AVAILABLE. */
export async function takeBackup(c: Cluster, token: string, input: Record<string, unknown>): Promise<BackupRow> {
  const r = ok(await call<{ createBackup: { backup: BackupRow } }>(c, token, CREATE_BACKUP, { input }));
  const b = await untilBackup(c, token, r.createBackup.backup.id, (x) => x?.status !== 'CREATING', 'the backup did not end');
  if (b?.status !== 'AVAILABLE') throw new Error(`backup ended ${JSON.stringify(b)}`);
  await untilVolume(c, token, String(input.volumeId), 'AVAILABLE');
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
