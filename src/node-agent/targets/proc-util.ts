/** Small process and port checks the targets share. */
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';

/** The command line of a live process ('' when gone or a zombie). */
export async function commandOf(pid: number): Promise<string> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  if (!status || /^State:\s+Z/m.test(status)) return '';
  return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
}

export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
