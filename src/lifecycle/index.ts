/**
 * Starting and stopping what a role owns: the daemons it spawns (`ProcessGroup`,
 * `spawnDaemon`) and the parts it starts in order (`StopStack`).
 */
export { DEFAULT_KILL_AFTER_MS, DEFAULT_STDERR_LIMIT, killOnExit, observeDaemonSpawns, spawnDaemon, type Daemon, type DaemonSpec, type SpawnObserver } from './daemon.js';
export { ProcessGroup, ProcessGroupClosedError } from './process-group.js';
export { StopStack, type Stopper } from './stop-stack.js';
