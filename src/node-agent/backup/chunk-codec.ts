/**
 * The stored form of a chunk: a 16-byte header then the payload.
 *   0..3   magic "FBC1"
 *   4      codec: 0 raw, 1 lz4 (block format)
 *   5..7   reserved, zero
 *   8..11  uncompressed length (uint32 BE)
 *   12..15 payload length (uint32 BE)
 * The codec is recorded per chunk, so a repository can hold chunks of several codecs and
 * a chunk compression did not shrink is stored raw.
 */
export const CHUNK_MAGIC = 0x46424331; // "FBC1"
export const HEADER_BYTES = 16;
export const CODECS = { raw: 0, lz4: 1 } as const;
export type CodecName = keyof typeof CODECS;

export function codecName(id: number): CodecName | null {
  for (const [name, v] of Object.entries(CODECS)) if (v === id) return name as CodecName;
  return null;
}

export function encodeHeader(codec: CodecName, rawLength: number, payloadLength: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32BE(CHUNK_MAGIC, 0);
  h.writeUInt8(CODECS[codec], 4);
  h.writeUInt32BE(rawLength, 8);
  h.writeUInt32BE(payloadLength, 12);
  return h;
}

export interface ParsedChunk {
  codec: CodecName;
  rawLength: number;
  payload: Uint8Array;
}

/** Parses a stored chunk's header; a string saying what is wrong when it is not one. */
export function parseChunk(data: Uint8Array): ParsedChunk | string {
  if (data.length < HEADER_BYTES) return `too short (${data.length} bytes)`;
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.readUInt32BE(0) !== CHUNK_MAGIC) return 'bad header magic';
  const codec = codecName(b.readUInt8(4));
  if (!codec) return `unknown codec ${b.readUInt8(4)}`;
  const rawLength = b.readUInt32BE(8);
  const payloadLength = b.readUInt32BE(12);
  if (payloadLength !== data.length - HEADER_BYTES) return `truncated (payload ${data.length - HEADER_BYTES} of ${payloadLength} bytes)`;
  if (codec === 'raw' && payloadLength !== rawLength) return 'raw payload length differs from the chunk length';
  return { codec, rawLength, payload: b.subarray(HEADER_BYTES) };
}
