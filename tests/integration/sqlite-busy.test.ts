/**
 * A SQLite transaction that another process's commit made stale is run again (src/db/sqlite-busy.ts).
 * Another connection (here a worker thread's, as the scheduler has one) commits while our
 * transaction is between its read and its write: our write fails with SQLITE_BUSY (the busy
 * timeout does not apply to a stale snapshot), and the transaction runs again from the start,
 * reads the other's commit, and commits. Without the retry the caller got the error.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { findVolume, openDb, Volume, type Db } from '../../src/db/index.js';
import { insertProject } from '../helpers/databases.js';
import { tempDir } from '../helpers/tmp.js';

let db: Db;
let path: string;
let cleanup: () => Promise<void>;
test.before(async () => {
  const dir = await tempDir('flint-sqlite-busy-');
  path = join(dir.path, 'flint.sqlite');
  db = await openDb({ kind: 'sqlite', path });
  await db.migrate();
  cleanup = async () => {
    await db.close();
    await dir.cleanup();
  };
});
test.after.always(async () => {
  await cleanup?.();
});

/** Another connection to the file, in a thread of its own: renames the volume when told, says when it committed. */
function otherWriter(file: string): Worker {
  const source = `
    const { parentPort } = require('node:worker_threads');
    const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
    const conn = new Database(${JSON.stringify(file)});
    conn.pragma('busy_timeout = 10000');
    parentPort.on('message', ({ id, name }) => {
      try {
        conn.prepare('UPDATE volume SET name = ? WHERE id = ?').run(name, id);
        parentPort.postMessage({ committedAt: Date.now() });
      } catch (err) {
        parentPort.postMessage({ error: String(err) });
      }
    });`;
  return new Worker(source, { eval: true });
}

test('a transaction whose snapshot another connection made stale runs again, sees that commit, and commits', async (t) => {
  const projectId = await insertProject(db);
  const id = randomUUID();
  const em = db.fork();
  em.create(Volume, { id, projectId, name: 'first', sizeGiB: 1, status: 'available', availabilityZone: 'az1' });
  await em.flush();
  const worker = otherWriter(path);
  try {
    const seen: string[] = [];
    await db.fork().transactional(async (tx) => {
      seen.push((await findVolume(tx, id))!.name);
      if (seen.length === 1) {
        // The other connection commits while we hold our snapshot.
        const answer = new Promise<{ committedAt?: number; error?: string }>((resolve) => worker.once('message', resolve));
        worker.postMessage({ id, name: 'theirs' });
        t.is((await answer).error, undefined);
      }
      await tx.nativeUpdate(Volume, { id, name: seen.at(-1)! }, { name: `${seen.at(-1)!} then ours` });
    });
    t.deepEqual(seen, ['first', 'theirs'], 'run twice: the second run read the other commit');
    t.is((await findVolume(db.fork(), id))!.name, 'theirs then ours');
  } finally {
    await worker.terminate();
  }
});

test('a nested transaction leaves the retry to its root; a transaction that keeps failing, or failed slowly, gives the error', async (t) => {
  const { isSqliteBusy, BUSY_ATTEMPTS } = await import('../../src/db/sqlite-busy.js');
  t.true(isSqliteBusy(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY_SNAPSHOT' })));
  t.false(isSqliteBusy(Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })));
  let runs = 0;
  const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
  await t.throwsAsync(
    db.fork().transactional(async () => {
      runs++;
      throw busy();
    }),
    { message: 'database is locked' },
  );
  t.is(runs, BUSY_ATTEMPTS);
  let inner = 0;
  let outer = 0;
  await t.throwsAsync(
    db.fork().transactional(async (tx) => {
      outer++;
      await tx.transactional(async () => {
        inner++;
        throw busy();
      });
    }),
  );
  t.is(outer, BUSY_ATTEMPTS);
  t.is(inner, BUSY_ATTEMPTS, 'the nested one ran once per run of its root');
  // One that failed only after the busy timeout's kind of wait is not run again (each run would block as long).
  let slow = 0;
  await t.throwsAsync(
    db.fork().transactional(async () => {
      slow++;
      await new Promise((r) => setTimeout(r, 1_100));
      throw busy();
    }),
  );
  t.is(slow, 1);
});
