/**
 * The NBD handshake (fixed newstyle): structured replies, the meta contexts asked for
 * (`base:allocation` always), then NBD_OPT_GO for the export, which gives its size and
 * transmission flags. The connection is then in the transmission phase (nbd-client.ts).
 */
import type { Socket } from 'node:net';
import { DriverError } from '../drivers/index.js';
import type { ByteReader } from './byte-reader.js';
import {
  BASE_ALLOCATION,
  FLAG_FIXED_NEWSTYLE,
  FLAG_NO_ZEROES,
  IHAVEOPT,
  INFO_EXPORT,
  NBDMAGIC,
  OPT_GO,
  OPT_REPLY_MAGIC,
  OPT_SET_META_CONTEXT,
  OPT_STRUCTURED_REPLY,
  REP_ACK,
  REP_INFO,
  REP_META_CONTEXT,
} from './nbd-protocol.js';

export interface Negotiated {
  size: number;
  transmissionFlags: number;
  /** Meta contexts the server agreed to, name → id. */
  contexts: Map<string, number>;
}

/**
 * Negotiates export `exportName` on a connected socket whose bytes `reader` receives.
 * @throws DriverError when the server is not a fixed-newstyle NBD server, refuses an option or reports no size
 */
export async function handshake(sock: Socket, reader: ByteReader, where: string, exportName: string, metaContexts: readonly string[]): Promise<Negotiated> {
  const hello = await reader.read(18);
  if (hello.readBigUInt64BE(0) !== NBDMAGIC || hello.readBigUInt64BE(8) !== IHAVEOPT) throw new DriverError(`${where} is not a newstyle NBD server`);
  const hsFlags = hello.readUInt16BE(16);
  if (!(hsFlags & FLAG_FIXED_NEWSTYLE)) throw new DriverError(`NBD server ${where} lacks fixed newstyle negotiation`);
  const cf = Buffer.alloc(4);
  cf.writeUInt32BE(FLAG_FIXED_NEWSTYLE | (hsFlags & FLAG_NO_ZEROES));
  sock.write(cf);

  const option = async (opt: number, data: Buffer): Promise<{ type: number; data: Buffer }[]> => {
    const h = Buffer.alloc(16);
    h.writeBigUInt64BE(IHAVEOPT, 0);
    h.writeUInt32BE(opt, 8);
    h.writeUInt32BE(data.length, 12);
    sock.write(Buffer.concat([h, data]));
    const replies: { type: number; data: Buffer }[] = [];
    for (;;) {
      const r = await reader.read(20);
      if (r.readBigUInt64BE(0) !== OPT_REPLY_MAGIC) throw new DriverError(`NBD server ${where}: bad option reply`);
      const type = r.readUInt32BE(12);
      const len = r.readUInt32BE(16);
      const body = await reader.read(len);
      if (type & 0x80000000) {
        throw new DriverError(`NBD server ${where} refused option ${opt} (error ${type & 0x7fffffff}): ${body.toString('utf8') || 'no message'}`);
      }
      if (type === REP_ACK) return replies;
      replies.push({ type, data: body });
    }
  };

  await option(OPT_STRUCTURED_REPLY, Buffer.alloc(0));
  const name = Buffer.from(exportName, 'utf8');
  const queries = [...new Set([BASE_ALLOCATION, ...metaContexts])].map((c) => Buffer.from(c, 'utf8'));
  const meta = Buffer.alloc(4 + name.length + 4 + queries.reduce((n, q) => n + 4 + q.length, 0));
  let p = meta.writeUInt32BE(name.length, 0);
  p += name.copy(meta, p);
  p = meta.writeUInt32BE(queries.length, p);
  for (const q of queries) {
    p = meta.writeUInt32BE(q.length, p);
    p += q.copy(meta, p);
  }
  const contexts = new Map<string, number>();
  for (const r of await option(OPT_SET_META_CONTEXT, meta)) {
    if (r.type === REP_META_CONTEXT) contexts.set(r.data.subarray(4).toString('utf8'), r.data.readUInt32BE(0));
  }
  const go = Buffer.alloc(4 + name.length + 2);
  go.writeUInt32BE(name.length, 0);
  name.copy(go, 4);
  go.writeUInt16BE(0, 4 + name.length);
  let size = -1;
  let tflags = 0;
  for (const r of await option(OPT_GO, go)) {
    if (r.type === REP_INFO && r.data.readUInt16BE(0) === INFO_EXPORT) {
      size = Number(r.data.readBigUInt64BE(2));
      tflags = r.data.readUInt16BE(10);
    }
  }
  if (size < 0) throw new DriverError(`NBD server ${where} did not report the size of export ${exportName}`);
  return { size, transmissionFlags: tflags, contexts };
}
