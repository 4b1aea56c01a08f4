/** The backup state machine, input checks and progress arithmetic of src/domain/backup-states.ts. */
import test from 'ava';
import { BadInputError, InvalidStateError } from '../../../src/domain/errors.js';
import {
  assertBackupCanStart,
  BACKUP_ACTIONS,
  BACKUP_OUTCOMES,
  BACKUP_STATUSES,
  backupSizeGiB,
  checkCreateBackup,
  checkRestoreBackup,
  progressEnded,
  progressFigures,
  ProgressThrottle,
  restoreTargetTooSmall,
  type BackupAction,
  type BackupStatus,
} from '../../../src/domain/backup-states.js';

const EXPECTED_FROM: Record<BackupAction, BackupStatus[]> = {
  delete: ['creating', 'available', 'error', 'error_deleting'],
  restore: ['available'],
  verify: ['available'],
  parent: ['available'],
  export: ['available'],
};

for (const action of Object.keys(EXPECTED_FROM) as BackupAction[]) {
  test(`${action} starts exactly from ${EXPECTED_FROM[action].join(', ')}`, (t) => {
    for (const s of BACKUP_STATUSES) {
      if (EXPECTED_FROM[action].includes(s)) t.notThrows(() => assertBackupCanStart(action, s, 'b1'), s);
      else {
        const err = t.throws(() => assertBackupCanStart(action, s, 'b1'), { instanceOf: InvalidStateError }, s);
        t.is(err!.code, 'INVALID_STATE');
        t.regex(err!.message, new RegExp(`^Backup b1 is ${s.toUpperCase()} and cannot be `));
      }
    }
  });
}

test('deleting goes to DELETING, restoring to RESTORING, verifying keeps the status', (t) => {
  t.is(assertBackupCanStart('delete', 'creating'), 'deleting');
  t.is(assertBackupCanStart('restore', 'available'), 'restoring');
  t.is(assertBackupCanStart('verify', 'available'), 'available');
});

test('a refused action on a busy backup says to wait', (t) => {
  const err = t.throws(() => assertBackupCanStart('restore', 'creating', 'b1'));
  t.regex(err!.message, /Wait until its current operation finishes/);
  const idle = t.throws(() => assertBackupCanStart('restore', 'error', 'b1'));
  t.notRegex(idle!.message, /Wait until/);
});

test('outcomes: a create ends AVAILABLE or ERROR, a restore leaves the backup AVAILABLE either way, a cancel waits for its delete', (t) => {
  t.like(BACKUP_OUTCOMES['create.succeeded'], { from: ['creating'], to: 'available' });
  t.like(BACKUP_OUTCOMES['create.failed'], { from: ['creating'], to: 'error' });
  t.like(BACKUP_OUTCOMES['create.cancelled'], { from: ['deleting'], to: 'deleting' });
  t.like(BACKUP_OUTCOMES['delete.succeeded'], { from: ['deleting'], to: 'deleted' });
  t.like(BACKUP_OUTCOMES['delete.failed'], { from: ['deleting'], to: 'error_deleting' });
  t.like(BACKUP_OUTCOMES['restore.succeeded'], { from: ['restoring'], to: 'available' });
  t.like(BACKUP_OUTCOMES['restore.failed'], { from: ['restoring'], to: 'available' });
  for (const o of Object.values(BACKUP_OUTCOMES)) for (const f of o.from) t.true(BACKUP_STATUSES.includes(f));
  t.deepEqual(Object.keys(BACKUP_ACTIONS).sort(), ['delete', 'export', 'parent', 'restore', 'verify']);
});

test('progress ends when the backup leaves CREATING and RESTORING', (t) => {
  t.deepEqual(BACKUP_STATUSES.filter((s) => !progressEnded(s)), ['creating', 'restoring']);
});

test('createBackup input: every problem at once', (t) => {
  const err = t.throws(() => checkCreateBackup({ volumeId: '', name: ' ', description: 'x'.repeat(1025), idempotencyKey: '' }), { instanceOf: BadInputError });
  t.is(err!.problems.length, 4);
  t.notThrows(() => checkCreateBackup({ volumeId: 'v', name: null }));
});

test('restoreBackup input: a name only for a new volume', (t) => {
  const err = t.throws(() => checkRestoreBackup({ backupId: 'b', volumeId: 'v', name: 'n' }), { instanceOf: BadInputError });
  t.regex(err!.message, /without volumeId/);
  t.throws(() => checkRestoreBackup({ backupId: '' }), { instanceOf: BadInputError });
  t.notThrows(() => checkRestoreBackup({ backupId: 'b', name: 'n' }));
  t.notThrows(() => checkRestoreBackup({ backupId: 'b', volumeId: 'v' }));
});

test('a restore target must hold every byte of the backup', (t) => {
  t.is(restoreTargetTooSmall(1, 2 ** 30, 'v'), null);
  t.regex(restoreTargetTooSmall(1, 2 ** 30 + 1, 'v')!, /volume v is 1 GiB, smaller than the backup \(2 GiB\)/);
  t.is(backupSizeGiB(1), 1);
  t.is(backupSizeGiB(2 ** 31 + 5), 3);
});

test('progress figures: percent with one decimal, rate since the start', (t) => {
  const start = { doneBytes: 0, totalBytes: 1000, at: 0 };
  t.deepEqual(progressFigures(start, { doneBytes: 333, totalBytes: 1000, at: 2000 }), { percent: 33.3, bytesPerSecond: 167 });
  t.deepEqual(progressFigures(start, { doneBytes: 0, totalBytes: 0, at: 0 }), { percent: 0, bytesPerSecond: 0 });
  t.is(progressFigures(start, { doneBytes: 2000, totalBytes: 1000, at: 1000 }).percent, 100);
});

test('the throttle lets one report through per interval', (t) => {
  const th = new ProgressThrottle(1000);
  t.true(th.due(0));
  t.false(th.due(500));
  t.true(th.due(1000));
  t.false(th.due(1999));
  t.true(th.due(2500));
});
