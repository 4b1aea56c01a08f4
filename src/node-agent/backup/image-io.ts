/**
 * Opens an image for the backup engine: qemu-nbd on a private unix socket plus our NBD client.
 * The qemu-nbd dies with the agent: a killed agent's restart would not find it (the chaos
 * suite found one left serving a volume after a kill -9 during a backup).
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessGroup } from '../../lifecycle/index.js';
import type { ImageSource } from '../drivers/index.js';
import { serveNbd } from '../qemu-nbd.js';
import { NbdClient } from './nbd-client.js';
import { dirtyBitmapContext } from './nbd-protocol.js';

export interface OpenImage {
  client: NbdClient;
  close(): Promise<void>;
}

/**
 * Serves `image` with qemu-nbd on a private unix socket and connects to it.
 * @param opts.bitmap also serve this persistent dirty bitmap (read it with `client.dirtyExtents`)
 * @param opts.processes owns the qemu-nbd process
 */
export async function openImage(image: ImageSource, writable: boolean, opts: { bitmap?: string; processes: ProcessGroup }): Promise<OpenImage> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'flint-bk-'));
  const socket = join(dir, 'nbd.sock');
  let server: Awaited<ReturnType<typeof serveNbd>> | undefined;
  try {
    server = await serveNbd({ image, exportName: 'img', listen: { socket }, readOnly: !writable, shared: 2, cache: writable ? 'writeback' : undefined, bitmap: opts.bitmap, processes: opts.processes, dieWithAgent: true });
    const client = await NbdClient.connect({ socket }, 'img', { metaContexts: opts.bitmap === undefined ? [] : [dirtyBitmapContext(opts.bitmap)] });
    let closing: Promise<void> | undefined;
    return {
      client,
      close: () =>
        (closing ??= (async () => {
          await client.close().catch(() => undefined);
          await server!.stop();
          await fs.rm(dir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    await server?.stop();
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}
