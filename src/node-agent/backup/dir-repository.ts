/**
 * A backup repository in a directory (local disk or a mounted share):
 *   chunks/<first 2 hex>/<sha256>   chunk objects (chunk-codec.ts format)
 *   manifests/<backupId>.json       backup manifests
 *   leases/<name>.json, gc/<name>.json   see repository.ts
 *   tmp/                            files being written
 * Every write goes to tmp/, is fsynced, then renamed to its final name, so a crash never
 * leaves a partial object under a final name (leftover tmp files are removed at open
 * when older than an hour).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { DriverError } from '../drivers/index.js';
import { checkHash, checkName, type ChunkInfo, type RecordKind, type RepoStore } from './repository.js';

const DIRS: Record<RecordKind, string> = { manifest: 'manifests', lease: 'leases', gc: 'gc' };

export class DirRepository implements RepoStore {
  private readonly dirtyDirs = new Set<string>();

  private constructor(
    readonly spec: string,
    readonly root: string,
  ) {}

  static async open(spec: string, root: string): Promise<DirRepository> {
    try {
      for (const d of ['chunks', 'manifests', 'leases', 'gc', 'tmp']) await fs.mkdir(join(root, d), { recursive: true });
    } catch (err) {
      throw new DriverError(`backup repository ${spec}: cannot create ${root} (${(err as Error).message}); check the path and its permissions`, { cause: err });
    }
    const repo = new DirRepository(spec, root);
    await repo.removeOldTemps();
    return repo;
  }

  async close(): Promise<void> {}

  private chunkPath(hash: string): string {
    checkHash(hash);
    return join(this.root, 'chunks', hash.slice(0, 2), hash);
  }

  private recordPath(kind: RecordKind, name: string): string {
    checkName(name);
    return join(this.root, DIRS[kind], `${name}.json`);
  }

  /** Writes `data` to `final` through a temp file (fsynced when `durable`) and a rename. */
  private async atomicWrite(final: string, data: Uint8Array | string, durable = true): Promise<void> {
    const tmp = join(this.root, 'tmp', `${randomBytes(8).toString('hex')}.tmp`);
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    try {
      await fs.rename(tmp, final);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async hasChunk(hash: string): Promise<boolean> {
    return fs.access(this.chunkPath(hash)).then(
      () => true,
      () => false,
    );
  }

  async putChunk(hash: string, data: Uint8Array): Promise<void> {
    const final = this.chunkPath(hash);
    const dir = join(this.root, 'chunks', hash.slice(0, 2));
    try {
      await fs.mkdir(dir, { recursive: true });
      await this.atomicWrite(final, data);
    } catch (err) {
      throw new DriverError(`backup repository ${this.spec}: cannot write chunk ${hash} (${(err as Error).message}); check free space and permissions`, { cause: err });
    }
    this.dirtyDirs.add(dir);
  }

  async getChunk(hash: string): Promise<Uint8Array | null> {
    try {
      return await fs.readFile(this.chunkPath(hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DriverError(`backup repository ${this.spec}: cannot read chunk ${hash} (${(err as Error).message})`, { cause: err });
    }
  }

  async deleteChunk(hash: string): Promise<number> {
    const path = this.chunkPath(hash);
    const st = await fs.stat(path).catch(() => null);
    if (!st) return 0;
    await fs.rm(path, { force: true });
    return st.size;
  }

  async listChunks(): Promise<ChunkInfo[]> {
    const out: ChunkInfo[] = [];
    const base = join(this.root, 'chunks');
    for (const prefix of await fs.readdir(base)) {
      const names = await fs.readdir(join(base, prefix)).catch(() => [] as string[]);
      for (const name of names) {
        if (!/^[0-9a-f]{64}$/.test(name)) continue;
        const st = await fs.stat(join(base, prefix, name)).catch(() => null);
        if (st) out.push({ hash: name, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    return out;
  }

  async sync(): Promise<void> {
    const dirs = [...this.dirtyDirs];
    this.dirtyDirs.clear();
    for (const d of dirs) await fsyncDir(d);
  }

  async putRecord(kind: RecordKind, name: string, text: string): Promise<void> {
    const final = this.recordPath(kind, name);
    try {
      const durable = kind === 'manifest';
      await this.atomicWrite(final, text, durable);
      if (durable) await fsyncDir(join(this.root, DIRS[kind]));
    } catch (err) {
      throw new DriverError(`backup repository ${this.spec}: cannot write ${kind} ${name} (${(err as Error).message}); check free space and permissions`, { cause: err });
    }
  }

  async getRecord(kind: RecordKind, name: string): Promise<string | null> {
    try {
      return await fs.readFile(this.recordPath(kind, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DriverError(`backup repository ${this.spec}: cannot read ${kind} ${name} (${(err as Error).message})`, { cause: err });
    }
  }

  async deleteRecord(kind: RecordKind, name: string): Promise<void> {
    await fs.rm(this.recordPath(kind, name), { force: true });
  }

  async listRecords(kind: RecordKind): Promise<{ name: string; mtimeMs: number }[]> {
    const dir = join(this.root, DIRS[kind]);
    const out: { name: string; mtimeMs: number }[] = [];
    for (const file of await fs.readdir(dir)) {
      if (!file.endsWith('.json')) continue;
      const st = await fs.stat(join(dir, file)).catch(() => null);
      if (st) out.push({ name: file.slice(0, -5), mtimeMs: st.mtimeMs });
    }
    return out;
  }

  /** Temp files of writers that died; an hour is far longer than any single write. */
  private async removeOldTemps(): Promise<void> {
    const dir = join(this.root, 'tmp');
    for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
      const st = await fs.stat(join(dir, f)).catch(() => null);
      if (st && Date.now() - st.mtimeMs > 3600_000) await fs.rm(join(dir, f), { force: true });
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
