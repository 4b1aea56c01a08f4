/**
 * Progress pushes deadlines (src/db/operation-store.ts `extendDeadline`, and the sweeper's
 * guarded `finishOperation`) against a real SQLite file and a real PostgreSQL database.
 */
import type { OperationKind } from '../../src/domain/operations.js';
import 'reflect-metadata';
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { extendDeadline, findOperation, finishOperation, Operation, type Db } from '../../src/db/index.js';
import { BACKUP_PROGRESS_KINDS, progressExtension } from '../../src/domain/deadlines.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

let databases: Databases | undefined;
test.before(async () => {
  databases = await openDatabases('flint-db-deadline-');
});
test.after.always(async () => {
  await databases?.close();
});
const db = (kind: Backend): Db => databases!.get(kind);

async function backupOperation(d: Db, kind: OperationKind, deadlineAt: Date): Promise<{ id: string; backupId: string }> {
  const em = d.fork();
  const backupId = randomUUID();
  const op = em.create(Operation, { id: randomUUID(), projectId: 'p', kind, resourceType: 'backup', resourceId: backupId, deadlineAt });
  await em.flush();
  return { id: op.id, backupId };
}

const where = (backupId: string) => ({ resourceType: 'backup' as const, resourceId: backupId, kinds: BACKUP_PROGRESS_KINDS });

for (const kind of BACKENDS) {
  test(`${kind}: progress pushes a running backup's deadline once per throttle, whoever asks`, async (t) => {
    const d = db(kind);
    const now = new Date();
    const op = await backupOperation(d, 'create_backup', new Date(now.getTime() + 1000));
    const step = progressExtension({ doneBytes: 10 }, undefined, now, 60)!;
    // Two gateways apply the same report: one changes the row, the other's guard fails.
    const changed = await Promise.all([extendDeadline(d.fork(), where(op.backupId), step.to, step.onlyIfBefore), extendDeadline(d.fork(), where(op.backupId), step.to, step.onlyIfBefore)]);
    t.is(changed[0]! + changed[1]!, 1);
    t.is((await findOperation(d.fork(), op.id))!.deadlineAt!.getTime(), step.to.getTime());
    // A second later (within timeout/10 = 6 s) nothing changes.
    const soon = progressExtension({ doneBytes: 20 }, 10, new Date(now.getTime() + 1000), 60)!;
    t.is(await extendDeadline(d.fork(), where(op.backupId), soon.to, soon.onlyIfBefore), 0);
    // After the throttle it moves again.
    const later = progressExtension({ doneBytes: 30 }, 20, new Date(now.getTime() + 7000), 60)!;
    t.is(await extendDeadline(d.fork(), where(op.backupId), later.to, later.onlyIfBefore), 1);
  });

  test(`${kind}: an ended operation, or one of another kind, keeps its deadline`, async (t) => {
    const d = db(kind);
    const now = new Date();
    const step = progressExtension({ doneBytes: 1 }, undefined, now, 60)!;
    const ended = await backupOperation(d, 'restore_backup', new Date(now.getTime() - 1000));
    t.true(await finishOperation(d.fork(), ended.id, 'failed', { code: 'SERVICE_UNAVAILABLE', message: 'x' }));
    t.is(await extendDeadline(d.fork(), where(ended.backupId), step.to, step.onlyIfBefore), 0);
    const del = await backupOperation(d, 'delete_backup', new Date(now.getTime() + 1000));
    t.is(await extendDeadline(d.fork(), where(del.backupId), step.to, step.onlyIfBefore), 0);
  });

  test(`${kind}: the sweeper does not fail an operation whose deadline progress pushed after it looked`, async (t) => {
    const d = db(kind);
    const now = new Date();
    const op = await backupOperation(d, 'create_backup', new Date(now.getTime() - 1000));
    // The sweep read it overdue; then a progress report pushed its deadline.
    const step = progressExtension({ doneBytes: 1 }, undefined, now, 60)!;
    t.is(await extendDeadline(d.fork(), where(op.backupId), step.to, step.onlyIfBefore), 1);
    t.false(await finishOperation(d.fork(), op.id, 'failed', { code: 'SERVICE_UNAVAILABLE', message: 'x' }, new Date()));
    t.is((await findOperation(d.fork(), op.id))!.status, 'pending');
  });
}

test.after.always('no process is left behind', noProcessesLeft);
