/**
 * The daemons one owner (an agent) started, so that its `stop()` can end every one of them,
 * including those whose start is still in flight when the stop comes.
 *
 * `close()` marks the group closed at once, then stops every member and waits for each to
 * exit. A spawn after that point is refused with `ProcessGroupClosedError` before any process
 * exists. So once `close()` has resolved, no process of the group is alive and none can be
 * started: a start racing a stop is cancelled (refused) or stopped, never orphaned. The
 * starting code sees its daemon exit (or the refusal) and fails as it would for any daemon
 * that dies at start.
 */
import { spawnDaemon, type Daemon, type DaemonSpec } from './daemon.js';

/** A spawn refused because the owner is stopping. */
export class ProcessGroupClosedError extends Error {
  override readonly name = 'ProcessGroupClosedError';
  constructor(group: string, binary: string) {
    super(`${group} is stopping: ${binary} was not started`);
  }
}

export class ProcessGroup {
  private readonly members = new Set<Daemon>();
  private closing: Promise<void> | undefined;

  /** @param name Who owns the group, for messages ("agent node-1"). */
  constructor(readonly name: string) {}

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Pids of the members still alive. */
  get pids(): number[] {
    return [...this.members].filter((d) => d.alive).map((d) => d.pid);
  }

  /** Spawns a member. @throws ProcessGroupClosedError once `close()` was called. */
  spawn(spec: DaemonSpec): Daemon {
    if (this.closed) throw new ProcessGroupClosedError(this.name, spec.binary);
    const daemon = spawnDaemon(spec);
    this.members.add(daemon);
    void daemon.exited.then(() => this.members.delete(daemon));
    return daemon;
  }

  /** Refuses further spawns, stops every member (each with its own signal and grace) and waits for all to exit. Safe to call twice. */
  close(): Promise<void> {
    return (this.closing ??= Promise.all([...this.members].map((d) => d.stop())).then(() => undefined));
  }
}
