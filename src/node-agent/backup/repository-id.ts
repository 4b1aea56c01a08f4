/**
 * A backup repository's identity: a UUID stored inside the repository, made once by the
 * first agent that opens it, so every agent that reaches the same repository (the same
 * directory on a shared mount, the same NATS bucket) reports the same id, and two
 * directories that merely have the same path on two hosts report different ones. Agents
 * advertise it in their pool heartbeats; a backup records the id it was written to; the
 * scheduler places restores on hosts that reach it.
 *
 * - `dir:` repositories: `repository.json` at the repository's root, created with a
 *   hard link from a temp file (atomic, and refused when it exists), so of two agents
 *   starting together one writes it and both read the winner's.
 * - `nats:<bucket>` repositories: key `id` of the KV bucket `<bucket>-id`, created with
 *   `kv.create` (refused when it exists), with the same read-the-winner rule.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { askAgain } from '../../bus/index.js';
import { DriverError } from '../drivers/index.js';
import type { BackupRepository } from './types.js';

/** The identity file of a directory repository. */
export const REPOSITORY_ID_FILE = 'repository.json';
const FORMAT = 'flint-backup-repository/1';
const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Identity {
  format: typeof FORMAT;
  id: string;
  createdAt: string;
}

function fresh(): Identity {
  return { format: FORMAT, id: randomUUID(), createdAt: new Date().toISOString() };
}

function parse(text: string, where: string): string {
  let id: unknown;
  try {
    const doc = JSON.parse(text) as Partial<Identity>;
    id = doc.format === FORMAT ? doc.id : undefined;
  } catch {
    id = undefined;
  }
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new DriverError(`${where} is not a Flint repository identity (${FORMAT} with a UUID id); an operator should restore it from a copy, or remove it if no backup was ever recorded with this repository`, { retryable: false });
  }
  return id;
}

/** The id of a directory repository rooted at `root`, made on first use. */
export async function dirRepositoryId(root: string): Promise<string> {
  const final = join(root, REPOSITORY_ID_FILE);
  const read = async (): Promise<string | null> => {
    try {
      return parse(await fs.readFile(final, 'utf8'), final);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  };
  const existing = await read();
  if (existing) return existing;
  await fs.mkdir(join(root, 'tmp'), { recursive: true });
  const tmp = join(root, 'tmp', `repository-${randomUUID()}.json`);
  const fh = await fs.open(tmp, 'wx');
  try {
    await fh.writeFile(JSON.stringify(fresh()));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.link(tmp, final);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const id = await read();
  if (!id) throw new DriverError(`${final} vanished right after it was written; check the repository's mount`);
  return id;
}

/** The KV bucket holding the id of the NATS repository `bucket`. */
export function natsIdBucket(bucket: string): string {
  return `${bucket}-id`;
}

/** The id of the NATS object store repository `bucket`, made on first use. */
export async function natsRepositoryId(nc: NatsConnection, bucket: string): Promise<string> {
  const where = `KV ${natsIdBucket(bucket)} key id`;
  // Several agents open one repository at once, and a busy server may let a request time out: ask again.
  const kv = await askAgain(() => new Kvm(nc).create(natsIdBucket(bucket), { history: 1, description: 'Flint backup repository identity' }));
  const read = async (): Promise<string | null> => {
    const e = await askAgain(() => kv.get('id'));
    return e && e.operation === 'PUT' ? parse(e.string(), where) : null;
  };
  const existing = await read();
  if (existing) return existing;
  try {
    await kv.create('id', JSON.stringify(fresh()));
  } catch {
    // Another agent created it first (or the create failed): read what is there.
  }
  const id = await read();
  if (!id) throw new DriverError(`could not record the identity of backup repository nats:${bucket} (${where}); check JetStream`);
  return id;
}

/**
 * The id of an opened repository (see the module comment).
 * @throws DriverError when the identity cannot be read or made.
 */
export async function repositoryId(repository: BackupRepository, deps: { nats?: NatsConnection }): Promise<string> {
  const spec = repository.spec;
  try {
    if (spec.startsWith('dir:')) {
      const root = (repository as { root?: unknown }).root;
      if (typeof root !== 'string') throw new DriverError(`repository ${spec} has no directory`, { retryable: false });
      return await dirRepositoryId(root);
    }
    if (spec.startsWith('nats:')) {
      if (!deps.nats) throw new DriverError(`backup repository "${spec}" needs a NATS connection`, { retryable: false });
      return await natsRepositoryId(deps.nats, spec.slice(5));
    }
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw new DriverError(`backup repository ${spec}: its identity could not be read or made (${(err as Error).message})`, { cause: err });
  }
  throw new DriverError(`backup repository "${spec}" has an unknown kind`, { retryable: false });
}
