/**
 * Free ports are taken below the OS's ephemeral range, where outgoing connections do not
 * take their source ports: a port found free stays free until its server binds it (a CI
 * run once lost port 40051 to another test's connection between the two).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort, isPortFree } from '../../src/net/free-port.js';

const ephemeralFirst = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

test('a free port lies below the ephemeral range, above the default ports, and can be listened on', async (t) => {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    t.true(port >= 20_000 && port < ephemeralFirst, `port ${port} is outside 20000–${ephemeralFirst - 1}`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    t.false(await isPortFree(port));
    await new Promise((resolve) => server.close(resolve));
  }
});
