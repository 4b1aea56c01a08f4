/** Looking for plaintext in an image file on disk: what encryption at rest must keep out. */
import { createReadStream } from 'node:fs';

/**
 * Whether the file holds `length` bytes of `byte` in a row anywhere (read in chunks, with an
 * overlap so a run across two chunks is found). A sparse file's holes read as zeros.
 */
export async function fileHasRun(path: string, byte: number, length = 4096): Promise<boolean> {
  const needle = Buffer.alloc(length, byte);
  let tail = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 8 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
    const window = Buffer.concat([tail, chunk]);
    if (window.indexOf(needle) >= 0) return true;
    tail = window.subarray(Math.max(0, window.length - (length - 1)));
  }
  return false;
}
