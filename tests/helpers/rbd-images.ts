/** RBD images for tests: create, write through qemu, read back whole (sha256), list snapshots. Uses a pool's own cephx user. */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { rbdFilename } from '../../src/node-agent/drivers/rbd-cli.js';
import type { RbdPoolConfig } from '../../src/config/index.js';
import { RbdDriver, type ImageSource } from '../../src/node-agent/drivers/index.js';
import type { TestRbdPool } from './ceph.js';

const run = promisify(execFile);

/** Who runs `rbd`, and on which pool: a test pool, or any pool's conf, user and keyring. */
export type RbdUser = Pick<TestRbdPool, 'conf' | 'user' | 'keyring' | 'rbdPool'>;

function auth(pool: RbdUser): string[] {
  return ['--conf', pool.conf, '--id', pool.user, '--keyring', pool.keyring];
}

/** Runs `rbd` as the pool's user; resolves its stdout. */
export async function rbd(pool: TestRbdPool, args: readonly string[]): Promise<string> {
  return (await run('rbd', [...auth(pool), ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** The ImageSource of image `image` (or its snapshot) in the test pool, as the rbd driver gives it. */
export function rbdSource(pool: TestRbdPool, image: string, sizeBytes: number, snapshot?: string): ImageSource {
  const ref = { pool: pool.rbdPool, image, conf: pool.conf, user: pool.user, keyring: pool.keyring, ...(snapshot === undefined ? {} : { snapshot }) };
  return { path: rbdFilename(ref), format: 'raw', sizeBytes, rbd: ref };
}

/** A new empty image of `sizeBytes`. */
export async function createRbdImage(pool: TestRbdPool, image: string, sizeBytes: number): Promise<ImageSource> {
  await rbd(pool, ['create', '--size', `${sizeBytes}B`, `${pool.rbdPool}/${image}`]);
  return rbdSource(pool, image, sizeBytes);
}

/** Writes through qemu-io: `[offset, length, pattern]` each. */
export async function qemuWriteRbd(image: ImageSource, writes: readonly [number, number, number][]): Promise<void> {
  await run('qemu-io', ['-f', 'raw', ...writes.flatMap(([o, l, p]) => ['-c', `write -P ${p} ${o} ${l}`]), image.path]);
}

/** sha256 of every byte of the image (or snapshot), zeros included, read with `rbd export`. */
export async function rbdSha256(pool: RbdUser, image: string, snapshot?: string): Promise<string> {
  const hash = createHash('sha256');
  const child = spawn('rbd', [...auth(pool), 'export', '--no-progress', `${pool.rbdPool}/${image}${snapshot ? `@${snapshot}` : ''}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => hash.update(d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`rbd export ${image} failed (${code}): ${stderr}`);
  return hash.digest('hex');
}

/** Names of the image's snapshots, sorted. */
export async function rbdSnapshots(pool: TestRbdPool, image: string): Promise<string[]> {
  return (JSON.parse(await rbd(pool, ['snap', 'ls', `${pool.rbdPool}/${image}`, '--format', 'json'])) as { name: string }[]).map((s) => s.name).sort();
}

/** The Flint `rbd` pool config over the test pool: thin, no reserve, no capacity cap. */
export function rbdPoolConfig(pool: TestRbdPool, over: Partial<RbdPoolConfig> = {}): RbdPoolConfig {
  return {
    name: 'r1',
    driver: 'rbd',
    cluster: { conf: pool.conf, user: pool.user, keyring: pool.keyring },
    rbdPool: pool.rbdPool,
    imageFormat: 'raw',
    capabilities: {},
    maxOverSubscriptionRatio: 20,
    reservedPercentage: 0,
    thinProvisioning: true,
    capacityGiB: undefined,
    ...over,
  };
}

/** An rbd driver over the test pool, already set up. */
export async function setUpRbdDriver(pool: TestRbdPool, over: Partial<RbdPoolConfig> = {}): Promise<RbdDriver> {
  const driver = new RbdDriver(rbdPoolConfig(pool, over));
  await driver.setup();
  return driver;
}
