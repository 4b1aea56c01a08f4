/** Gives a test its own nats-server: a NATS that someone else runs (e.g. on 4222) must never be touched. */
import type { ExecutionContext } from 'ava';
import { startNatsServer, type NatsServerProcess, type StartNatsServerOptions } from '../../src/bus/nats-server-process.js';
import { tempDir } from './tmp.js';

/** Options for {@link withNats}; everything of {@link StartNatsServerOptions} except the store dir. */
export interface WithNatsOptions extends Omit<StartNatsServerOptions, 'storeDir'> {
  /** When given, `stop()` is registered as the test's teardown. */
  t?: Pick<ExecutionContext, 'teardown'>;
}

/**
 * Starts a nats-server with JetStream on a free port (unless `port` is given)
 * with a temporary store dir. `stop()` stops the server and removes the store
 * dir; `restart()` and `kill()` keep it, so tests can check what survives.
 */
export async function withNats(options: WithNatsOptions = {}): Promise<NatsServerProcess> {
  const { t, ...startOptions } = options;
  const store = await tempDir('flint-nats-');
  let server: NatsServerProcess;
  try {
    server = await startNatsServer({ ...startOptions, storeDir: store.path });
  } catch (err) {
    await store.cleanup();
    throw err;
  }
  const stop = async (): Promise<void> => {
    try {
      await server.stop();
    } finally {
      await store.cleanup();
    }
  };
  // A wrapper object rather than spreading `server`: pid and running are getters that must stay live.
  const wrapped: NatsServerProcess = {
    url: server.url,
    port: server.port,
    storeDir: server.storeDir,
    get pid() {
      return server.pid;
    },
    get running() {
      return server.running;
    },
    stop,
    kill: () => server.kill(),
    restart: () => server.restart(),
  };
  t?.teardown(stop);
  return wrapped;
}
