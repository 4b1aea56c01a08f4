/**
 * A backup repository in a NATS JetStream object store bucket (replicated with the NATS
 * cluster). Objects: `chunks/<sha256>`, `manifests/<id>`, `leases/<name>`, `gc/<name>`.
 * An object becomes visible only once its meta message is written after all its data
 * chunks, so an interrupted put never shows a partial object under its name (the stray
 * data messages are purged by the next put of the same name).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import { DriverError } from '../drivers/index.js';
import { checkHash, checkName, type ChunkInfo, type RecordKind, type RepoStore } from './repository.js';

const PREFIX: Record<RecordKind, string> = { manifest: 'manifests/', lease: 'leases/', gc: 'gc/' };

export class NatsRepository implements RepoStore {
  private constructor(
    readonly spec: string,
    private readonly os: ObjectStore,
  ) {}

  static async open(spec: string, nc: NatsConnection, bucket: string): Promise<NatsRepository> {
    try {
      const os = await new Objm(nc).create(bucket, { storage: StorageType.File, description: 'Flint backup repository' });
      return new NatsRepository(spec, os);
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
    await this.wrap(`writing ${kind} ${name}`, this.os.putBlob({ name: PREFIX[kind] + name }, new TextEncoder().encode(text)));
  }

  async getRecord(kind: RecordKind, name: string): Promise<string | null> {
    checkName(name);
    const data = await this.wrap(`reading ${kind} ${name}`, this.os.getBlob(PREFIX[kind] + name));
    return data === null ? null : new TextDecoder().decode(data);
  }

  async deleteRecord(kind: RecordKind, name: string): Promise<void> {
    checkName(name);
    const info = await this.wrap(`looking up ${kind} ${name}`, this.os.info(PREFIX[kind] + name));
    if (!info || info.deleted) return;
    await this.wrap(`deleting ${kind} ${name}`, this.os.delete(PREFIX[kind] + name));
  }

  async listRecords(kind: RecordKind): Promise<{ name: string; mtimeMs: number }[]> {
    const all = await this.wrap(`listing ${kind} records`, this.os.list());
    const prefix = PREFIX[kind];
    return all.filter((i) => !i.deleted && i.name.startsWith(prefix)).map((i) => ({ name: i.name.slice(prefix.length), mtimeMs: Date.parse(i.mtime) }));
  }
}
