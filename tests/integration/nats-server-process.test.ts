import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { freePort, isPortFree, pickPort } from '../../src/net/free-port.js';
import { startNatsServer } from '../../src/cli/dev/nats-server.js';
import { withNats } from '../helpers/nats.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

/**
 * Whether a process with this pid is still running. A zombie counts as gone:
 * an orphan is reaped by PID 1, which in a container may never do it.
 */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Field 3 of /proc/PID/stat is the state; the name before it is in parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function holdPort(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => resolve());
  });
  return server;
}

async function connectTo(t: { teardown(fn: () => Promise<void>): void }, url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, reconnect: false });
  t.teardown(async () => {
    if (!nc.isClosed()) await nc.close();
  });
  return nc;
}

/** Adds a file-backed stream and publishes one message; returns its sequence. */
async function seed(nc: NatsConnection, stream: string, text: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`], storage: StorageType.File });
  const ack = await jetstream(nc).publish(`${stream.toLowerCase()}.one`, text);
  return ack.seq;
}

test('starts a nats-server with JetStream on its own free port', async (t) => {
  const nats = await withNats({ t });
  t.not(nats.port, 4222, 'must not collide with a shared NATS');
  t.is(nats.url, `nats://127.0.0.1:${nats.port}`);
  t.true(nats.running);
  t.true(pidAlive(nats.pid));

  const nc = await connectTo(t, nats.url);
  const seq = await seed(nc, 'PROBE', 'hello');
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.streams.getMessage('PROBE', { seq });
  t.is(stored?.string(), 'hello');
  t.is(stored?.subject, 'probe.one');
});

test('restart keeps the port and the file-stored streams', async (t) => {
  const nats = await withNats({ t });
  const nc = await connectTo(t, nats.url);
  const seq = await seed(nc, 'KEEP', 'survives a restart');
  await nc.close();
  const { pid: firstPid, port } = nats;

  await nats.restart();
  t.is(nats.port, port);
  t.not(nats.pid, firstPid);
  t.false(pidAlive(firstPid));

  const nc2 = await connectTo(t, nats.url);
  const jsm = await jetstreamManager(nc2);
  t.is((await jsm.streams.info('KEEP')).state.messages, 1);
  t.is((await jsm.streams.getMessage('KEEP', { seq }))?.string(), 'survives a restart');
});

test('a killed (SIGKILL) server restarts with its acknowledged messages', async (t) => {
  const nats = await withNats({ t });
  const nc = await connectTo(t, nats.url);
  const seq = await seed(nc, 'CRASH', 'acked before the crash');
  await nc.close();

  await nats.kill();
  t.false(nats.running);
  await nats.restart();
  t.true(nats.running);

  const nc2 = await connectTo(t, nats.url);
  const jsm = await jetstreamManager(nc2);
  t.is((await jsm.streams.getMessage('CRASH', { seq }))?.string(), 'acked before the crash');
});

test('stop leaves no process, frees the port and removes the temp store', async (t) => {
  const nats = await withNats();
  const { pid, port, storeDir } = nats;
  t.true(existsSync(storeDir));

  await nats.stop();
  t.false(nats.running);
  t.false(pidAlive(pid));
  t.true(await isPortFree(port));
  t.false(existsSync(storeDir));
  await t.notThrowsAsync(nats.stop(), 'stop twice is harmless');
});

test('pickPort keeps a free preferred port and avoids a taken one', async (t) => {
  const preferred = await freePort();
  t.is(await pickPort(preferred), preferred);

  const holder = await holdPort(preferred);
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  t.false(await isPortFree(preferred));
  const other = await pickPort(preferred);
  t.not(other, preferred);
  t.true(other > 0);
  t.true(await isPortFree(other));
});

test('an explicit port that is taken is a clear error', async (t) => {
  const port = await freePort();
  const holder = await holdPort(port);
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const store = await tempDir('flint-nats-');
  t.teardown(store.cleanup);

  await t.throwsAsync(startNatsServer({ storeDir: store.path, port }), { message: /already in use/ });
});

test('an explicit free port and a log file are honoured', async (t) => {
  const dir = await tempDir('flint-nats-log-');
  t.teardown(dir.cleanup);
  const port = await freePort();
  const logFile = `${dir.path}/logs/nats.log`;
  const nats = await withNats({ t, port, logFile });
  t.is(nats.port, port);
  t.true(existsSync(logFile));
});

test('a server is killed when the process that started it exits', async (t) => {
  // A separate Node process starts a server and then simply ends: the child
  // must not keep it alive, and the exit hook must take the server down.
  const store = await tempDir('flint-nats-orphan-');
  t.teardown(store.cleanup);
  const moduleUrl = new URL('../../src/cli/dev/nats-server.js', import.meta.url).href;
  const script = `
    const { startNatsServer } = await import(${JSON.stringify(moduleUrl)});
    const nats = await startNatsServer({ storeDir: ${JSON.stringify(store.path)} });
    console.log(JSON.stringify({ pid: nats.pid, port: nats.port }));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.is(code, 0);
  const { pid, port } = JSON.parse(out) as { pid: number; port: number };
  t.true(pid > 0);

  // SIGKILL is delivered at once, but allow the kernel a moment to reap it.
  for (let i = 0; i < 50 && pidAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  t.false(pidAlive(pid));
  // Its listening socket is gone once the kernel has finished the exit; on a loaded machine that can lag the pid.
  let free = await isPortFree(port);
  for (let i = 0; i < 50 && !free; i++) {
    await new Promise((r) => setTimeout(r, 100));
    free = await isPortFree(port);
  }
  t.true(free);
});

test.after.always('no process is left behind', noProcessesLeft);
