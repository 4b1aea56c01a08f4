/**
 * One long-lived child process (tgtd, qemu-nbd, qemu-storage-daemon): spawned, its stderr
 * kept for messages, and stopped with its own signal, then SIGKILL after a grace period.
 * Every daemon Flint starts goes through here, so there is one place that knows how a child
 * is stopped and one set of live children to kill when this process exits on a crash.
 *
 * Readiness is each caller's business (a pid file, a control port, a mount): this module
 * only starts, watches and stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Grace between the stop signal and SIGKILL. @default 5_000 */
export const DEFAULT_KILL_AFTER_MS = 5_000;
/** How much of stderr is kept for messages. @default 16_384 */
export const DEFAULT_STDERR_LIMIT = 16_384;
/** After 'exit', how long to wait for the rest of stderr ('close'); a pipe some grandchild holds must not block. @default 1_000 */
const CLOSE_AFTER_EXIT_MS = 1_000;

export interface DaemonSpec {
  binary: string;
  args: readonly string[];
  /** The signal that asks the daemon to stop. tgtd ignores SIGTERM and needs SIGINT. @default 'SIGTERM' */
  stopSignal?: NodeJS.Signals;
  /** @default DEFAULT_KILL_AFTER_MS */
  killAfterMs?: number;
  /** @default DEFAULT_STDERR_LIMIT */
  stderrLimit?: number;
}

export interface Daemon {
  readonly binary: string;
  readonly args: readonly string[];
  /** The child's pid; -1 when it could not be spawned (see `exited`). */
  readonly pid: number;
  /** False once the process has exited (or could not be spawned). */
  readonly alive: boolean;
  /**
   * Resolves once the process has exited, with `exit N`, the signal's name, or `error …` when
   * it could not be spawned (`error spawn X ENOENT` for a missing binary). By then stderr is
   * complete.
   */
  readonly exited: Promise<string>;
  /** What the daemon wrote to stderr so far (the first `stderrLimit` characters). */
  stderr(): string;
  /** Sends the stop signal, SIGKILL after the grace; resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL at once; resolves once the process has exited. */
  kill(): Promise<void>;
}

/** Called for every daemon spawned in this process (tests check the ports they were given). */
export type SpawnObserver = (d: Pick<Daemon, 'binary' | 'args' | 'pid'>) => void;
const observers = new Set<SpawnObserver>();

/** Registers `observer` for every later spawn; returns its removal. */
export function observeDaemonSpawns(observer: SpawnObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

// Children alive now, SIGKILLed when this process exits without stopping them (an uncaught
// exception, process.exit in a hurry): a crashed agent must not leave a tgtd holding its portal.
const live = new Set<ChildProcess>();
let exitHook = false;

/**
 * SIGKILLs `child` if this process exits while it still runs. Signals that end this process
 * without running 'exit' handlers (SIGKILL) are out of reach: the owner's pid files are.
 */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // Gone already.
      }
    }
  });
}

/** Spawns `spec` (stdin and stdout ignored, stderr kept). Never throws: a spawn failure shows in `exited`. */
export function spawnDaemon(spec: DaemonSpec): Daemon {
  const limit = spec.stderrLimit ?? DEFAULT_STDERR_LIMIT;
  const child = spawn(spec.binary, [...spec.args], { stdio: ['ignore', 'ignore', 'pipe'] });
  killOnExit(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < limit) stderr += chunk.slice(0, limit - stderr.length);
  });
  let gone = false;
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => {
      gone = true;
      resolve(`error ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      gone = true;
      const how = signal ?? `exit ${code}`;
      const timer = setTimeout(() => resolve(how), CLOSE_AFTER_EXIT_MS);
      child.once('close', () => {
        clearTimeout(timer);
        resolve(how);
      });
    });
  });
  const signalAndWait = async (signal: NodeJS.Signals, killAfterMs: number): Promise<void> => {
    if (gone) {
      await exited;
      return;
    }
    child.kill(signal);
    const timer = killAfterMs > 0 && signal !== 'SIGKILL' ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
    await exited;
    clearTimeout(timer);
  };
  let stopping: Promise<void> | undefined;
  const daemon: Daemon = {
    binary: spec.binary,
    args: spec.args,
    pid: child.pid ?? -1,
    get alive() {
      return !gone;
    },
    exited,
    stderr: () => stderr,
    stop: () => (stopping ??= signalAndWait(spec.stopSignal ?? 'SIGTERM', spec.killAfterMs ?? DEFAULT_KILL_AFTER_MS)),
    kill: () => signalAndWait('SIGKILL', 0),
  };
  for (const o of observers) o(daemon);
  return daemon;
}
