/**
 * A backup repository in a NATS JetStream object store bucket (replicated with the NATS
 * cluster). Objects: `chunks/<sha256>`, `manifests/<id>`. An object becomes visible only
 * once its meta message is written after all its data chunks, so an interrupted put never
 * shows a partial object under its name (the stray data messages are purged by the next
 * put of the same name).
 *
 * Leases and GC markers live in a companion KV bucket `<bucket>-leases` (keys
 * `lease.<name>`, `gc.<name>`): a backup looks for markers after every lease segment, and
 * listing an object store means reading the meta of every chunk, while a KV key listing
 * with a subject filter reads only those keys. Its entries expire after LEASE_MAX_AGE_MS.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import { DriverError } from '../drivers/index.js';
import { checkHash, checkName, type ChunkInfo, type RecordKind, type RepoStore } from './repository.js';

const PREFIX: Record<RecordKind, string> = { manifest: 'manifests/', lease: 'leases/', gc: 'gc/' };
const KV_PREFIX = { lease: 'lease.', gc: 'gc.' } as const;

/** Lease and marker entries are dropped by the server after this long (far beyond LEASE_STALE_MS). @default 30 days */
export const LEASE_MAX_AGE_MS = 30 * 24 * 3600_000;

export class NatsRepository implements RepoStore {
  private constructor(
    readonly spec: string,
    private readonly os: ObjectStore,
    private readonly kv: KV,
  ) {}

  /** `replicas`: of the bucket and its leases (FLINT_NATS_REPLICAS) when it is made; an existing bucket keeps its own. */
  static async open(spec: string, nc: NatsConnection, bucket: string, replicas = 1): Promise<NatsRepository> {
    try {
      const os = await new Objm(nc).create(bucket, { storage: StorageType.File, description: 'Flint backup repository', replicas });
      const kv = await new Kvm(nc).create(`${bucket}-leases`, { history: 1, ttl: LEASE_MAX_AGE_MS, description: 'Flint backup leases and GC markers', replicas });
      return new NatsRepository(spec, os, kv);
    } catch (err) {
      throw new DriverError(`backup repository ${spec}: cannot open the NATS object store bucket (${(err as Error).message}); is JetStream enabled?`, { cause: err });
    }
  }

  async close(): Promise<void> {}

  private wrap<T>(what: string, p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      throw new DriverError(`backup repository ${this.spec}: ${what} failed (${(err as Error).message}); check the NATS connection and JetStream storage`, { cause: err });
    });
  }

  async hasChunk(hash: string): Promise<boolean> {
    checkHash(hash);
    const info = await this.wrap(`looking up chunk ${hash}`, this.os.info(`chunks/${hash}`));
    return info !== null && !info.deleted;
  }

  async putChunk(hash: string, data: Uint8Array): Promise<void> {
    checkHash(hash);
    await this.wrap(`writing chunk ${hash}`, this.os.putBlob({ name: `chunks/${hash}` }, data));
  }

  async getChunk(hash: string): Promise<Uint8Array | null> {
    checkHash(hash);
    return this.wrap(`reading chunk ${hash}`, this.os.getBlob(`chunks/${hash}`));
  }

  async deleteChunk(hash: string): Promise<number> {
    checkHash(hash);
    const info = await this.wrap(`looking up chunk ${hash}`, this.os.info(`chunks/${hash}`));
    if (!info || info.deleted) return 0;
    await this.wrap(`deleting chunk ${hash}`, this.os.delete(`chunks/${hash}`));
    return info.size;
  }

  async listChunks(): Promise<ChunkInfo[]> {
    const all = await this.wrap('listing chunks', this.os.list());
    return all
      .filter((i) => !i.deleted && i.name.startsWith('chunks/'))
      .map((i) => ({ hash: i.name.slice(7), size: i.size, mtimeMs: Date.parse(i.mtime) }));
  }

  async sync(): Promise<void> {
    // JetStream acknowledges a put once stored: nothing more to flush.
  }

  async putRecord(kind: RecordKind, name: string, text: string): Promise<void> {
    checkName(name);
    if (kind === 'manifest') {
      await this.wrap(`writing manifest ${name}`, this.os.putBlob({ name: PREFIX.manifest + name }, new TextEncoder().encode(text)));
      return;
    }
    await this.wrap(`writing ${kind} ${name}`, this.kv.put(KV_PREFIX[kind] + name, text));
  }

  async getRecord(kind: RecordKind, name: string): Promise<string | null> {
    checkName(name);
    if (kind === 'manifest') {
      const data = await this.wrap(`reading manifest ${name}`, this.os.getBlob(PREFIX.manifest + name));
      return data === null ? null : new TextDecoder().decode(data);
    }
    const e = await this.wrap(`reading ${kind} ${name}`, this.kv.get(KV_PREFIX[kind] + name));
    return e && e.operation === 'PUT' ? e.string() : null;
  }

  async deleteRecord(kind: RecordKind, name: string): Promise<void> {
    checkName(name);
    if (kind === 'manifest') {
      const info = await this.wrap(`looking up manifest ${name}`, this.os.info(PREFIX.manifest + name));
      if (!info || info.deleted) return;
      await this.wrap(`deleting manifest ${name}`, this.os.delete(PREFIX.manifest + name));
      return;
    }
    await this.wrap(`deleting ${kind} ${name}`, this.kv.purge(KV_PREFIX[kind] + name));
  }

  async listRecords(kind: RecordKind): Promise<{ name: string; mtimeMs: number }[]> {
    if (kind === 'manifest') {
      const all = await this.wrap('listing manifests', this.os.list());
      return all.filter((i) => !i.deleted && i.name.startsWith(PREFIX.manifest)).map((i) => ({ name: i.name.slice(PREFIX.manifest.length), mtimeMs: Date.parse(i.mtime) }));
    }
    const prefix = KV_PREFIX[kind];
    return this.wrap(
      `listing ${kind} records`,
      (async () => {
        const out: { name: string; mtimeMs: number }[] = [];
        const keys: string[] = [];
        for await (const k of await this.kv.keys(`${prefix}>`)) keys.push(k);
        for (const k of keys) {
          const e = await this.kv.get(k);
          if (e && e.operation === 'PUT') out.push({ name: k.slice(prefix.length), mtimeMs: e.created.getTime() });
        }
        return out;
      })(),
    );
  }
}
