/**
 * Free TCP ports, found by binding: for servers a process starts on a port of its choosing
 * (dev mode's nats-server, an agent's migration export, tests).
 */
import { readFileSync } from 'node:fs';
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

/** Where `freePort` looks first: above the well-known and default ports (iSCSI 3260, NATS 4222, NBD 10809…). */
const FIRST_PORT = 20_000;
/** The OS's ephemeral range starts here when /proc does not say (Linux's default). */
const EPHEMERAL_FIRST = 32_768;
/** Random tries below the ephemeral range before asking the OS. @default 20 */
const TRIES = 20;

/** The first port of the OS's ephemeral range (outgoing connections take their source ports there). */
function ephemeralFirst(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : EPHEMERAL_FIRST;
  } catch {
    return EPHEMERAL_FIRST;
  }
}

/**
 * A port that was free a moment ago at `host` (default 127.0.0.1). Chosen at random below
 * the OS's ephemeral range: a port the OS hands out for "port 0" is also where outgoing
 * connections take their source ports, so one of those could take it before its server
 * binds. Asks the OS (port 0) only when no port there is free.
 */
export async function freePort(host: string = DEFAULT_HOST): Promise<number> {
  const last = ephemeralFirst() - 1;
  for (let i = 0; i < TRIES && last > FIRST_PORT; i++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (last - FIRST_PORT + 1));
    if (await isPortFree(port, host)) return port;
  }
  return osPort(host);
}

/** A port the OS chose (listen on port 0), free a moment ago. */
function osPort(host: string): Promise<number> {
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
