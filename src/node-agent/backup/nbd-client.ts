/**
 * A small NBD client (fixed newstyle handshake, structured replies) for the backup engine:
 * enough to read allocated extents of an image qemu-nbd serves (raw, qcow2, qcow2
 * internal snapshots alike) and to write a restored image. Requests are pipelined: each
 * carries a cookie and replies are matched to it. The handshake is in nbd-handshake.ts,
 * the protocol's numbers in nbd-protocol.ts.
 * Protocol: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
 */
import { connect, type Socket } from 'node:net';
import { DriverError } from '../drivers/index.js';
import { ByteReader } from './byte-reader.js';
import { handshake } from './nbd-handshake.js';
import {
  BASE_ALLOCATION,
  CMD_BLOCK_STATUS,
  CMD_DISC,
  CMD_FLUSH,
  CMD_READ,
  CMD_WRITE,
  CMD_WRITE_ZEROES,
  dirtyBitmapContext,
  REPLY_FLAG_DONE,
  REPLY_TYPE_BLOCK_STATUS,
  REPLY_TYPE_NONE,
  REPLY_TYPE_OFFSET_DATA,
  REPLY_TYPE_OFFSET_HOLE,
  REQUEST_MAGIC,
  SIMPLE_REPLY_MAGIC,
  STATE_DIRTY,
  STATE_HOLE,
  STATE_ZERO,
  STRUCTURED_REPLY_MAGIC,
  type Extent,
} from './nbd-protocol.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** READ: destination */
  into?: Uint8Array;
  offset?: number;
  /** BLOCK_STATUS: extents by meta context id (one reply chunk per negotiated context). */
  extents?: Map<number, Extent[]>;
  error?: Error;
}

export class NbdClient {
  private nextCookie = 1n;
  private readonly pending = new Map<bigint, Pending>();
  private closed: Error | null = null;
  /** Bytes received as READ data (for "reads only allocated extents" accounting). */
  bytesRead = 0;

  private constructor(
    private readonly sock: Socket,
    private readonly reader: ByteReader,
    readonly size: number,
    readonly transmissionFlags: number,
    /** Meta contexts the server agreed to, name → id. */
    private readonly contexts: ReadonlyMap<string, number>,
    private readonly where: string,
  ) {
    void this.readLoop();
  }

  /**
   * Connects to a unix socket (or host:port) and negotiates the export `exportName`, with
   * the `base:allocation` meta context and `opts.metaContexts` (e.g. `qemu:dirty-bitmap:NAME`);
   * `hasContext` tells which the server agreed to.
   */
  static async connect(target: { socket: string } | { host: string; port: number }, exportName: string, opts: { metaContexts?: readonly string[] } = {}): Promise<NbdClient> {
    const where = 'socket' in target ? target.socket : `${target.host}:${target.port}`;
    const sock = 'socket' in target ? connect(target.socket) : connect(target.port, target.host);
    const reader = new ByteReader();
    sock.on('data', (b: Buffer) => reader.push(b));
    sock.on('error', (e) => reader.fail(e));
    sock.on('close', () => reader.fail(new DriverError(`NBD server ${where} closed the connection`)));
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      sock.setNoDelay(true);
      const h = await handshake(sock, reader, where, exportName, opts.metaContexts ?? []);
      return new NbdClient(sock, reader, h.size, h.transmissionFlags, h.contexts, where);
    } catch (err) {
      sock.destroy();
      if (err instanceof DriverError) throw err;
      throw new DriverError(`cannot open NBD export ${exportName} at ${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  private send(type: number, offset: number, length: number, data: Uint8Array | null, p: Omit<Pending, 'resolve' | 'reject'>): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    const cookie = this.nextCookie++;
    const h = Buffer.alloc(28);
    h.writeUInt32BE(REQUEST_MAGIC, 0);
    h.writeUInt16BE(0, 4);
    h.writeUInt16BE(type, 6);
    h.writeBigUInt64BE(cookie, 8);
    h.writeBigUInt64BE(BigInt(offset), 16);
    h.writeUInt32BE(length, 24);
    return new Promise((resolve, reject) => {
      this.pending.set(cookie, { ...p, resolve, reject });
      this.sock.write(h);
      if (data) this.sock.write(data);
    });
  }

  /** Reads `into.length` bytes at `offset` into `into` (holes become zeros). */
  async read(offset: number, into: Uint8Array): Promise<void> {
    await this.send(CMD_READ, offset, into.length, null, { into, offset });
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    await this.send(CMD_WRITE, offset, data.length, data, {});
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    await this.send(CMD_WRITE_ZEROES, offset, length, null, {});
  }

  async flush(): Promise<void> {
    await this.send(CMD_FLUSH, 0, 0, null, {});
  }

  /** Whether the server agreed to meta context `name` at the handshake. */
  hasContext(name: string): boolean {
    return this.contexts.has(name);
  }

  /**
   * The extents of [offset, offset+length) in meta context `context` (default
   * base:allocation): as many as the server returns for one request (at least one; the
   * caller loops for the rest). Without base:allocation, everything reads as data.
   * @throws DriverError for another context the server did not agree to
   */
  async blockStatus(offset: number, length: number, context = BASE_ALLOCATION): Promise<Extent[]> {
    const id = this.contexts.get(context);
    if (id === undefined) {
      if (context === BASE_ALLOCATION) return [{ offset, length, flags: 0 }];
      throw new DriverError(`NBD server ${this.where} does not offer meta context ${context}`, { retryable: false });
    }
    const extents = new Map<number, Extent[]>();
    await this.send(CMD_BLOCK_STATUS, offset, length, null, { extents, offset });
    return extents.get(id) ?? [];
  }

  /** All allocated (neither hole nor known-zero) extents of the export, merged. */
  allocatedExtents(): Promise<{ offset: number; length: number }[]> {
    return this.extentsWhere(BASE_ALLOCATION, (flags) => (flags & (STATE_HOLE | STATE_ZERO)) === 0);
  }

  /** The extents bitmap `bitmap` (served with `qemu-nbd -B`) marks dirty, merged. */
  dirtyExtents(bitmap: string): Promise<{ offset: number; length: number }[]> {
    return this.extentsWhere(dirtyBitmapContext(bitmap), (flags) => (flags & STATE_DIRTY) !== 0);
  }

  private async extentsWhere(context: string, keep: (flags: number) => boolean): Promise<{ offset: number; length: number }[]> {
    const out: { offset: number; length: number }[] = [];
    const STEP = 1 << 30;
    let pos = 0;
    while (pos < this.size) {
      const ext = await this.blockStatus(pos, Math.min(STEP, this.size - pos), context);
      if (ext.length === 0) throw new DriverError(`NBD server ${this.where} returned no block status for ${context} at offset ${pos}`);
      for (const e of ext) {
        const len = Math.min(e.length, this.size - pos);
        if (len <= 0) break;
        if (keep(e.flags)) {
          const last = out[out.length - 1];
          if (last && last.offset + last.length === pos) last.length += len;
          else out.push({ offset: pos, length: len });
        }
        pos += len;
      }
    }
    return out;
  }

  /** Sends NBD_CMD_DISC and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pending.size === 0) {
      const h = Buffer.alloc(28);
      h.writeUInt32BE(REQUEST_MAGIC, 0);
      h.writeUInt16BE(CMD_DISC, 6);
      this.sock.write(h);
    }
    this.closed = new DriverError(`NBD connection to ${this.where} is closed`);
    await new Promise<void>((resolve) => this.sock.end(resolve));
    this.sock.destroy();
  }

  private failAll(e: Error): void {
    this.closed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        const magicBuf = await this.reader.read(4);
        const magic = magicBuf.readUInt32BE(0);
        if (magic === SIMPLE_REPLY_MAGIC) {
          const r = await this.reader.read(12);
          const err = r.readUInt32BE(0);
          const cookie = r.readBigUInt64BE(4);
          const p = this.pending.get(cookie);
          if (!p) throw new DriverError(`NBD server ${this.where} answered an unknown request`);
          if (p.into && err === 0) {
            const data = await this.reader.read(p.into.length);
            p.into.set(data);
            this.bytesRead += data.length;
          }
          this.pending.delete(cookie);
          if (err !== 0) p.reject(new DriverError(`NBD request at offset ${p.offset ?? 0} failed on ${this.where} (errno ${err})`));
          else p.resolve(undefined);
        } else if (magic === STRUCTURED_REPLY_MAGIC) {
          const r = await this.reader.read(16);
          const flags = r.readUInt16BE(0);
          const type = r.readUInt16BE(2);
          const cookie = r.readBigUInt64BE(4);
          const len = r.readUInt32BE(12);
          const p = this.pending.get(cookie);
          if (!p) throw new DriverError(`NBD server ${this.where} answered an unknown request`);
          if (type === REPLY_TYPE_OFFSET_DATA) {
            const off = Number((await this.reader.read(8)).readBigUInt64BE(0));
            const data = await this.reader.read(len - 8);
            p.into!.set(data, off - p.offset!);
            this.bytesRead += data.length;
          } else if (type === REPLY_TYPE_OFFSET_HOLE) {
            const b = await this.reader.read(12);
            const off = Number(b.readBigUInt64BE(0));
            const holeLen = b.readUInt32BE(8);
            p.into!.fill(0, off - p.offset!, off - p.offset! + holeLen);
          } else if (type === REPLY_TYPE_BLOCK_STATUS) {
            const b = await this.reader.read(len);
            const list: Extent[] = [];
            p.extents?.set(b.readUInt32BE(0), list);
            let pos = p.offset!;
            for (let i = 4; i + 8 <= b.length; i += 8) {
              const l = b.readUInt32BE(i);
              list.push({ offset: pos, length: l, flags: b.readUInt32BE(i + 4) });
              pos += l;
            }
          } else if (type & 0x8000) {
            const b = await this.reader.read(len);
            const errno = b.readUInt32BE(0);
            const msgLen = b.readUInt16BE(4);
            const msg = b.subarray(6, 6 + msgLen).toString('utf8');
            p.error ??= new DriverError(`NBD request at offset ${p.offset ?? 0} failed on ${this.where} (errno ${errno}${msg ? `: ${msg}` : ''})`);
          } else if (type !== REPLY_TYPE_NONE || len > 0) {
            await this.reader.read(len);
          }
          if (flags & REPLY_FLAG_DONE) {
            this.pending.delete(cookie);
            if (p.error) p.reject(p.error);
            else p.resolve(undefined);
          }
        } else {
          throw new DriverError(`NBD server ${this.where} sent a reply with bad magic 0x${magic.toString(16)}`);
        }
      }
    } catch (err) {
      this.failAll(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
