/**
 * Worker thread of the backup engine: hashing, zero detection, compression and
 * decompression of chunks, off the event loop.
 * Chunk bytes live in a SharedArrayBuffer of slots owned by the main thread; tasks name a
 * slot by offset and length, so no chunk is copied between threads.
 */
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { compressSync, uncompressSync } from 'lz4-napi';
import { encodeHeader, HEADER_BYTES, parseChunk } from './chunk-codec.js';

export type WorkerTask =
  | { op: 'hash'; sab: SharedArrayBuffer; offset: number; length: number }
  | { op: 'encode'; sab: SharedArrayBuffer; offset: number; length: number; codec: 'lz4' | 'raw' }
  | { op: 'decode'; sab: SharedArrayBuffer; offset: number; capacity: number; data: Uint8Array; hash: string };

export type WorkerResult =
  | { op: 'hash'; hash: string; zero: boolean }
  | { op: 'encode'; data: Uint8Array; codec: 'lz4' | 'raw' }
  | { op: 'decode'; ok: true; length: number }
  | { op: 'decode'; ok: false; reason: string };

const ZEROS = Buffer.alloc(4 * 1024 * 1024);

function isZero(b: Buffer): boolean {
  let pos = 0;
  while (pos < b.length) {
    const n = Math.min(ZEROS.length, b.length - pos);
    if (ZEROS.compare(b, pos, pos + n, 0, n) !== 0) return false;
    pos += n;
  }
  return true;
}

function run(t: WorkerTask): { result: WorkerResult; transfer: ArrayBuffer[] } {
  switch (t.op) {
    case 'hash': {
      const b = Buffer.from(t.sab, t.offset, t.length);
      return { result: { op: 'hash', hash: createHash('sha256').update(b).digest('hex'), zero: isZero(b) }, transfer: [] };
    }
    case 'encode': {
      const b = Buffer.from(t.sab, t.offset, t.length);
      if (t.codec === 'lz4') {
        const c = compressSync(b);
        if (c.length < t.length) {
          const out = new Uint8Array(HEADER_BYTES + c.length);
          out.set(encodeHeader('lz4', t.length, c.length), 0);
          out.set(c, HEADER_BYTES);
          return { result: { op: 'encode', data: out, codec: 'lz4' }, transfer: [out.buffer] };
        }
      }
      const out = new Uint8Array(HEADER_BYTES + t.length);
      out.set(encodeHeader('raw', t.length, t.length), 0);
      out.set(b, HEADER_BYTES);
      return { result: { op: 'encode', data: out, codec: 'raw' }, transfer: [out.buffer] };
    }
    case 'decode': {
      const parsed = parseChunk(t.data);
      if (typeof parsed === 'string') return { result: { op: 'decode', ok: false, reason: `unreadable chunk object: ${parsed}` }, transfer: [] };
      if (parsed.rawLength > t.capacity) return { result: { op: 'decode', ok: false, reason: `chunk of ${parsed.rawLength} bytes is larger than expected (${t.capacity})` }, transfer: [] };
      let raw: Uint8Array;
      try {
        raw = parsed.codec === 'lz4' ? uncompressSync(parsed.payload) : parsed.payload;
      } catch (err) {
        return { result: { op: 'decode', ok: false, reason: `cannot decompress (${(err as Error).message})` }, transfer: [] };
      }
      if (raw.length !== parsed.rawLength) return { result: { op: 'decode', ok: false, reason: `decompressed to ${raw.length} bytes, header says ${parsed.rawLength}` }, transfer: [] };
      const got = createHash('sha256').update(raw).digest('hex');
      if (got !== t.hash) return { result: { op: 'decode', ok: false, reason: `content hash is ${got}, not the chunk's name` }, transfer: [] };
      new Uint8Array(t.sab, t.offset, raw.length).set(raw);
      return { result: { op: 'decode', ok: true, length: raw.length }, transfer: [] };
    }
  }
}

parentPort?.on('message', (msg: { id: number; task: WorkerTask }) => {
  try {
    const { result, transfer } = run(msg.task);
    parentPort!.postMessage({ id: msg.id, result }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
