/** Gives a test its own nats-server: a NATS that someone else runs (e.g. on 4222) must never be touched. */
import type { ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { startNatsServer, type NatsServerProcess, type StartNatsServerOptions } from '../../src/cli/dev/nats-server.js';
import { provisionNats } from '../../src/bus/nats/provision.js';
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

/** A nats-server that refuses anonymous clients, with one nkey seed per Flint role (src/bus/nats/provision.ts). */
export interface SecureNats {
  server: NatsServerProcess;
  /** Where the seeds and the server configuration are. */
  authDir: string;
  /** `FLINT_NATS_URL` and `FLINT_NATS_NKEY_SEED_FILE` of a role (an agent: of its host). */
  env(role: 'gateway' | 'scheduler' | 'agent', host?: string): NodeJS.ProcessEnv;
  /**
   * The seed file of a role; `observer` is the tests' own identity, which may only read
   * `flint.>` (to watch what crosses the bus) and publish nothing but its requests' replies.
   */
  seedFile(role: 'gateway' | 'scheduler' | 'agent' | 'observer', host?: string): string;
  stop(): Promise<void>;
}

export interface WithSecureNatsOptions extends WithNatsOptions {
  /** Agent hosts to make credentials for. */
  agents: readonly string[];
  /** NATS backup repositories the agents may use. */
  backupBuckets?: readonly string[];
  /** Backend hosts each agent host serves (its shared pools' backendHost). */
  agentBackends?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Starts a nats-server like `withNats`, but with the users and permissions `flint nats-config`
 * writes for `agents`: every client must log in with one of the seeds.
 */
export async function withSecureNats(options: WithSecureNatsOptions): Promise<SecureNats> {
  const { t, agents, backupBuckets, agentBackends, ...rest } = options;
  const auth = await tempDir('flint-nats-auth-');
  let server: NatsServerProcess;
  let p: ReturnType<typeof provisionNats>;
  try {
    const observer = createUser();
    writeFileSync(join(auth.path, 'observer.nk'), `${new TextDecoder().decode(observer.getSeed())}\n`, { mode: 0o600 });
    p = provisionNats({
      dir: auth.path,
      agents,
      backupBuckets: backupBuckets ?? [],
      ...(agentBackends ? { agentBackends } : {}),
      extraUsers: [{ label: 'tests: a read-only observer', nkey: observer.getPublicKey(), permissions: { publish: [], subscribe: ['flint.>', '_INBOX.>'], allowResponses: false } }],
    });
    server = await withNats({ ...rest, configFile: p.configFile });
  } catch (err) {
    await auth.cleanup();
    throw err;
  }
  const seedFile = (role: 'gateway' | 'scheduler' | 'agent' | 'observer', host?: string): string => {
    if (role === 'gateway') return p.gatewaySeedFile;
    if (role === 'scheduler') return p.schedulerSeedFile;
    if (role === 'observer') return join(auth.path, 'observer.nk');
    const f = p.agentSeedFiles.get(host ?? '');
    if (!f) throw new Error(`no credentials for agent ${host}: name it in withSecureNats({ agents })`);
    return f;
  };
  const stop = async (): Promise<void> => {
    try {
      await server.stop();
    } finally {
      await auth.cleanup();
    }
  };
  t?.teardown(stop);
  return {
    server,
    authDir: auth.path,
    seedFile,
    env: (role, host) => ({ FLINT_NATS_URL: server.url, FLINT_NATS_NKEY_SEED_FILE: seedFile(role, host) }),
    stop,
  };
}
