/**
 * Starts and stops a real `nats-server` (with JetStream) as a child process.
 *
 * Used by dev mode (`flint dev` runs NATS under `.flint/`) and by tests that
 * need their own server, including ones that kill and restart it. A test must
 * never touch a NATS it did not start (a shared one may run on 4222), so every
 * server here gets its own port and store directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { killOnExit } from '../../lifecycle/index.js';
import { freePort, isPortFree } from '../../net/free-port.js';

/** Options for {@link startNatsServer}. */
export interface StartNatsServerOptions {
  /** JetStream store directory (`-sd`); created if missing. Keep it to keep streams across restarts. */
  storeDir: string;
  /** TCP port for clients. `0` or undefined picks a free port. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`: a dev server should not be reachable from the network. */
  host?: string;
  /** Write the server log to this file (`-l`) instead of keeping it in memory. */
  logFile?: string;
  /** How long to wait for the server to accept clients. Default 15000 ms. */
  startTimeoutMs?: number;
  /**
   * A configuration file (`-c`), e.g. users and permissions from `renderServerConfig`; the
   * address, port, JetStream and store dir given here still win over it.
   */
  configFile?: string;
  /**
   * A fixed server name. A cluster node needs one: JetStream knows its peers by name, so a
   * node that came back under another name would be a stranger. @default a unique one per launch
   */
  serverName?: string;
  /** Make this server a node of a NATS cluster: its route port, and the routes of the others. */
  cluster?: NatsClusterNode;
}

/** A node's part in a NATS cluster (nats-server's `--cluster`, `--cluster_name`, `--routes`). */
export interface NatsClusterNode {
  /** The cluster's name; every node gives the same. */
  name: string;
  /** The port this node takes routes on (on the server's host). */
  routePort: number;
  /** The other nodes' route URLs, `nats://127.0.0.1:PORT`. */
  routes: string[];
}

/** A running `nats-server` child process. */
export interface NatsServerProcess {
  /** Client URL, e.g. `nats://127.0.0.1:38211`. Stays the same across {@link restart}. */
  readonly url: string;
  /** Client port. Stays the same across {@link restart}. */
  readonly port: number;
  /** PID of the current server process (changes on {@link restart}). */
  readonly pid: number;
  /** Store directory in use (absolute). */
  readonly storeDir: string;
  /** False once the process has exited, whatever the reason. */
  readonly running: boolean;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL at once, to simulate a crash; resolves when the process has exited. */
  kill(): Promise<void>;
  /** Stops (if still running) and starts again on the same port with the same store dir. */
  restart(): Promise<void>;
}

/** Grace period between SIGTERM and SIGKILL in {@link NatsServerProcess.stop}. */
const STOP_GRACE_MS = 5000;
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 15_000;
/** Keep this much of the server's stderr, for error messages. */
const STDERR_TAIL_BYTES = 16 * 1024;
/** Directories searched after PATH: Debian installs nats-server in /usr/sbin, often not in PATH. */
const EXTRA_BIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin'];

/**
 * Absolute path of the `nats-server` binary (PATH, then /usr/sbin and friends),
 * or undefined when it is not installed.
 */
export function findNatsServerBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return Promise.resolve();
  return new Promise((resolvePromise) => child.once('exit', () => resolvePromise()));
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  const exited = waitForExit(child);
  if (graceMs > 0) {
    child.kill('SIGTERM');
    // nats-server flushes JetStream on SIGTERM; a wedged one must not hang stop().
    const timer = setTimeout(() => {
      if (!hasExited(child)) child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  } else {
    child.kill('SIGKILL');
    await exited;
  }
}

function dialHostOf(host: string): string {
  // A wildcard listen address is not something a client can dial.
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function urlFor(host: string, port: number): string {
  const dialHost = dialHostOf(host);
  return `nats://${dialHost.includes(':') ? `[${dialHost}]` : dialHost}:${port}`;
}

/**
 * Connects once and reads the server's INFO line. Resolves with the parsed
 * INFO, or undefined if nothing (or not NATS) answers.
 */
export function readInfo(host: string, port: number): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host: dialHostOf(host), port });
    let buffer = '';
    const done = (value: Record<string, unknown> | undefined): void => {
      socket.destroy();
      resolvePromise(value);
    };
    socket.setTimeout(2000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end < 0) {
        if (buffer.length > 64 * 1024) done(undefined);
        return;
      }
      const line = buffer.slice(0, end);
      if (!line.startsWith('INFO ')) return done(undefined);
      try {
        done(JSON.parse(line.slice(5)) as Record<string, unknown>);
      } catch {
        done(undefined);
      }
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function readFrom(path: string, offset: number, maxBytes: number): Promise<string> {
  try {
    const handle = await open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      const start = Math.max(offset, size - maxBytes);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await handle.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

/** Thrown when the server could not bind its port; lets the caller retry. */
class PortInUseError extends Error {}

interface Launched {
  child: ChildProcess;
}

interface LaunchSpec {
  binary: string;
  host: string;
  port: number;
  storeDir: string;
  logFile?: string;
  configFile?: string;
  timeoutMs: number;
  serverName?: string;
  cluster?: NatsClusterNode;
}

/** The command line of a nats-server with JetStream (and, for a cluster node, its routes). */
export function natsServerArgs(spec: Pick<LaunchSpec, 'host' | 'port' | 'storeDir' | 'logFile' | 'configFile' | 'cluster'> & { serverName: string }): string[] {
  const args = [...(spec.configFile ? ['-c', spec.configFile] : []), '-a', spec.host, '-p', String(spec.port), '-js', '-sd', spec.storeDir, '-n', spec.serverName];
  if (spec.cluster) {
    const c = spec.cluster;
    args.push('--cluster', `nats://${spec.host}:${c.routePort}`, '--cluster_name', c.name, ...(c.routes.length ? ['--routes', c.routes.join(',')] : []));
  }
  if (spec.logFile !== undefined) args.push('-l', spec.logFile);
  return args;
}

/**
 * Spawns one nats-server and waits until it is ours that answers on the port:
 * the server gets a unique name, and readiness means a client connection got
 * an INFO with that name and JetStream on. A bare TCP connect could succeed
 * against some other process that holds the port.
 */
async function launch(spec: LaunchSpec): Promise<Launched> {
  const name = spec.serverName ?? `flint-${process.pid}-${randomBytes(4).toString('hex')}`;
  const args = natsServerArgs({ ...spec, serverName: name });
  let logOffset = 0;
  if (spec.logFile !== undefined) {
    await mkdir(dirname(spec.logFile), { recursive: true });
    logOffset = await fileSize(spec.logFile);
  }

  const child = spawn(spec.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrTail = '';
  // Always drain stderr: a full pipe would block the server's logging and with it the server.
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  // Neither the child nor its pipe keeps the parent alive; the exit hook reaps it.
  child.unref();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  // Killed if this process exits without stopping it (a crashed test worker, a dev session returning from main).
  killOnExit(child);

  const output = async (): Promise<string> => {
    const fromLog = spec.logFile !== undefined ? await readFrom(spec.logFile, logOffset, STDERR_TAIL_BYTES) : '';
    return (stderrTail + fromLog).trim();
  };

  const deadline = Date.now() + spec.timeoutMs;
  for (;;) {
    if (spawnError !== undefined) {
      throw new Error(`could not run ${spec.binary}: ${spawnError.message}`);
    }
    if (hasExited(child)) {
      // Let the last stderr chunks arrive before reporting them.
      await sleep(50);
      const out = await output();
      const how = child.exitCode !== null ? `exit code ${child.exitCode}` : `signal ${child.signalCode}`;
      const message = `nats-server exited during startup (${how}) on ${spec.host}:${spec.port}${out ? `:\n${out}` : ''}`;
      if (/address already in use/i.test(out)) throw new PortInUseError(message);
      throw new Error(message);
    }
    const info = await readInfo(spec.host, spec.port);
    if (info !== undefined && info.server_name === name && !hasExited(child)) {
      if (info.jetstream !== true) {
        await terminate(child, STOP_GRACE_MS);
        throw new Error(`nats-server on port ${spec.port} started without JetStream:\n${await output()}`);
      }
      return { child };
    }
    if (Date.now() > deadline) {
      await terminate(child, 0);
      const out = await output();
      throw new Error(
        `nats-server did not accept connections on ${spec.host}:${spec.port} within ${spec.timeoutMs} ms${out ? `:\n${out}` : ''}`,
      );
    }
    await sleep(50);
  }
}

/**
 * Starts `nats-server -a HOST -p PORT -js -sd STOREDIR [-l LOGFILE]` and
 * resolves once it accepts clients with JetStream enabled; rejects with the
 * server's output if it exits first or does not come up in time.
 *
 * Defaults: `host` 127.0.0.1, `port` 0 (a free port), log kept in memory,
 * `startTimeoutMs` 15000. An explicit port that is already taken is an error;
 * a picked port that is lost to another process in the meantime is re-picked.
 */
export async function startNatsServer(opts: StartNatsServerOptions): Promise<NatsServerProcess> {
  const binary = findNatsServerBinary();
  if (binary === undefined) {
    throw new Error(
      'nats-server not found in PATH or /usr/sbin: run `node scripts/ensure-system.mjs` (or apt-get install nats-server)',
    );
  }
  const host = opts.host ?? DEFAULT_HOST;
  const requested = opts.port ?? 0;
  if (!Number.isInteger(requested) || requested < 0 || requested > 65535) {
    throw new RangeError(`invalid NATS port ${String(opts.port)}`);
  }
  const storeDir = resolve(opts.storeDir);
  await mkdir(storeDir, { recursive: true });
  const logFile = opts.logFile === undefined ? undefined : resolve(opts.logFile);
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const configFile = opts.configFile === undefined ? undefined : resolve(opts.configFile);
  const { serverName, cluster } = opts;

  if (requested > 0 && !(await isPortFree(requested, host))) {
    throw new Error(`cannot start nats-server: port ${requested} on ${host} is already in use`);
  }

  let launched: Launched | undefined;
  let port = requested;
  for (let attempt = 1; launched === undefined; attempt++) {
    if (requested === 0) port = await freePort(host);
    try {
      launched = await launch({ binary, host, port, storeDir, logFile, configFile, timeoutMs, serverName, cluster });
    } catch (err) {
      // Between freePort() and the server's bind another process (often a
      // parallel test) can grab the port; pick another one a few times.
      if (!(err instanceof PortInUseError) || requested !== 0 || attempt >= 5) throw err;
    }
  }

  let child = launched.child;
  const url = urlFor(host, port);
  // Serialises stop/kill/restart so overlapping calls do not race on `child`.
  let pending: Promise<void> = Promise.resolve();
  const serial = (fn: () => Promise<void>): Promise<void> => {
    const next = pending.then(fn, fn);
    pending = next.catch(() => undefined);
    return next;
  };

  return {
    url,
    port,
    storeDir,
    get pid(): number {
      return child.pid ?? -1;
    },
    get running(): boolean {
      return !hasExited(child);
    },
    stop: () => serial(() => terminate(child, STOP_GRACE_MS)),
    kill: () => serial(() => terminate(child, 0)),
    restart: () =>
      serial(async () => {
        await terminate(child, STOP_GRACE_MS);
        // The same port is required; it is normally free again at once
        // (SO_REUSEADDR), but give a briefly lingering socket a moment.
        for (let attempt = 1; ; attempt++) {
          try {
            child = (await launch({ binary, host, port, storeDir, logFile, configFile, timeoutMs, serverName, cluster })).child;
            return;
          } catch (err) {
            if (!(err instanceof PortInUseError) || attempt >= 10) throw err;
            await sleep(200);
          }
        }
      }),
  };
}
