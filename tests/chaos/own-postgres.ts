/**
 * The chaos suite's own PostgreSQL server, so that its restart fault restarts a real server: an
 * `initdb` in a temporary directory, run as the `postgres` user on a free port of 127.0.0.1
 * (trust authentication, fsync on). `crash()` stops it in immediate mode (no checkpoint: the
 * start after it replays the WAL, as after a power cut) and `start()` brings it back on the same
 * port. The machine's own server is shared with other tests and is never touched.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureDatabase } from '../../src/db/pg-admin.js';
import { freePort } from '../../src/net/free-port.js';

const run = promisify(execFile);

export interface OwnPostgres {
  /** postgres://… of the database made for the cluster. */
  databaseUrl: string;
  /** Stops the server at once, as a crash would. */
  crash(): Promise<void>;
  /** Starts it again on its port; resolves once it takes connections. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

/** The directory of PostgreSQL's server programs (the newest version installed), if any. */
function serverBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** Starts a server of its own; throws, saying why, when this machine has no PostgreSQL server programs or no `postgres` user. */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = serverBin();
  if (!bin) throw new Error('no PostgreSQL server programs under /usr/lib/postgresql (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'flint-chaos-pg-'));
  const data = join(dir, 'data');
  const { uid, gid } = await postgresUser();
  chownSync(dir, uid, gid);
  const asPostgres = (program: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(bin, program), ...args], { cwd: dir });
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  };
  try {
    await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await start();
    const databaseUrl = await ensureDatabase(`postgres://postgres@127.0.0.1:${port}/postgres`, 'flint_chaos');
    return {
      databaseUrl,
      start,
      crash: async () => {
        await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      },
      remove: async () => {
        await asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['postgres']).catch(() => {
    throw new Error('there is no postgres user to run a server as (apt-get install postgresql)');
  });
  const uid = /uid=(\d+)/.exec(stdout)?.[1];
  const gid = /gid=(\d+)/.exec(stdout)?.[1];
  return { uid: Number(uid), gid: Number(gid) };
}
