/**
 * Free TCP ports, found by binding: for servers a process starts on a port of its choosing
 * (dev mode's nats-server, an agent's migration export, tests).
 */
import { createServer } from 'node:net';

/** Where ports are looked for when no address is given: the loopback, never the network. */
const DEFAULT_HOST = '127.0.0.1';

/**
 * Whether nothing listens on `port` at `host` (default 127.0.0.1), checked by
 * binding it briefly. Another process may take it right after; callers that
 * must not lose that race should handle the bind error instead.
 */
export function isPortFree(port: number, host: string = DEFAULT_HOST): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolvePromise(false);
      else reject(err);
    });
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolvePromise(true));
    });
  });
}

/** A port that was free a moment ago, chosen by the OS (listen on port 0 at `host`, default 127.0.0.1). */
export function freePort(host: string = DEFAULT_HOST): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolvePromise(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

/**
 * `preferred` if it is free at `host` (default 127.0.0.1), otherwise another
 * free port. Dev mode uses it to run on 4222 unless something already does.
 */
export async function pickPort(preferred: number, host: string = DEFAULT_HOST): Promise<number> {
  if (preferred > 0 && (await isPortFree(preferred, host))) return preferred;
  return freePort(host);
}
