/**
 * Both databases Flint supports, migrated and ready, for tests that must pass on each:
 * a SQLite file in a temp dir and a temporary PostgreSQL database.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { openDb, Project, type Db } from '../../src/db/index.js';
import { createTempDatabase } from './postgres.js';
import { tempDir } from './tmp.js';

export type Backend = 'sqlite' | 'postgresql';
export const BACKENDS: readonly Backend[] = ['sqlite', 'postgresql'];

export interface Databases {
  get(kind: Backend): Db;
  /** URL of the PostgreSQL database, to open a second connection pool on it. */
  pgUrl: string;
  /** Closes both, removes the file and drops the PostgreSQL database; reports the first failure. */
  close(): Promise<void>;
}

export async function openDatabases(prefix: string): Promise<Databases> {
  const dbs = new Map<Backend, Db>();
  // Run in reverse order: close a database before removing its file or dropping it.
  const cleanups: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => errors.push(err));
    if (errors.length) throw errors[0];
  };
  try {
    const dir = await tempDir(prefix);
    cleanups.push(dir.cleanup);
    const sqlite = await openDb({ kind: 'sqlite', path: join(dir.path, 'flint.sqlite') });
    cleanups.push(() => sqlite.close());
    await sqlite.migrate();
    dbs.set('sqlite', sqlite);

    const pg = await createTempDatabase();
    cleanups.push(pg.drop);
    const postgres = await openDb({ kind: 'postgresql', url: pg.url });
    cleanups.push(() => postgres.close());
    await postgres.migrate();
    dbs.set('postgresql', postgres);
    return {
      get: (kind) => {
        const d = dbs.get(kind);
        if (!d) throw new Error(`${kind} database is not open`);
        return d;
      },
      pgUrl: pg.url,
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/** Inserts a project row (quota counters and the change feed key on it) and returns its id. */
export async function insertProject(d: Db): Promise<string> {
  const id = randomUUID();
  const em = d.fork();
  await em.insert(Project, em.create(Project, { id, name: `p-${id.slice(0, 8)}` }));
  return id;
}
