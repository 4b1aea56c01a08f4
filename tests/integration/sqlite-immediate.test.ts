/**
 * SQLite transactions take the write lock when they begin (src/db/sqlite-driver.ts). Another
 * process (here a worker thread with its own connection, as the scheduler has) that writes
 * the file while a transaction of ours is between its read and its write then waits for our
 * commit, and ours commits. Begun deferred, ours failed at its write with SQLITE_BUSY (its
 * snapshot was older than the other's commit), and the busy timeout did not apply.
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
  const dir = await tempDir('flint-sqlite-immediate-');
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

test('a transaction between its read and its write is not failed by another connection commit: the other waits', async (t) => {
  const projectId = await insertProject(db);
  const id = randomUUID();
  const em = db.fork();
  em.create(Volume, { id, projectId, name: 'first', sizeGiB: 1, status: 'available', availabilityZone: 'az1' });
  await em.flush();
  const worker = otherWriter(path);
  try {
    const answer = new Promise<{ committedAt?: number; error?: string }>((resolve) => worker.once('message', resolve));
    let ourCommitAt = 0;
    await db.fork().transactional(async (tx) => {
      t.is((await findVolume(tx, id))!.name, 'first');
      worker.postMessage({ id, name: 'theirs' });
      // Long enough for the other connection to commit, had it not had to wait.
      await new Promise((r) => setTimeout(r, 300));
      await tx.nativeUpdate(Volume, { id }, { name: 'ours' });
      ourCommitAt = Date.now();
    });
    const theirs = await answer;
    t.is(theirs.error, undefined);
    t.true(theirs.committedAt! >= ourCommitAt, 'the other connection committed after our transaction');
    t.is((await findVolume(db.fork(), id))!.name, 'theirs');
  } finally {
    await worker.terminate();
  }
});
