import test from 'ava';
import { backupProgressKey, migrationProgressKey, progressKey } from '../../../src/domain/operation-progress.js';
import { ProgressBoard } from '../../../src/gateway/live/progress-board.js';

test('a backup operation reads the reports of its backup in its phase; a migration or retype its own; others none', (t) => {
  t.is(progressKey({ id: 'op', kind: 'create_backup', resourceId: 'b1' }), backupProgressKey('b1', 'backup'));
  t.is(progressKey({ id: 'op', kind: 'restore_backup', resourceId: 'b1' }), backupProgressKey('b1', 'restore'));
  t.is(progressKey({ id: 'op', kind: 'verify_backup', resourceId: 'b1' }), backupProgressKey('b1', 'verify'));
  t.is(progressKey({ id: 'op', kind: 'migrate_volume', resourceId: 'v1' }), migrationProgressKey('op'));
  t.is(progressKey({ id: 'op', kind: 'retype_volume', resourceId: 'v1' }), migrationProgressKey('op'));
  for (const kind of ['create_volume', 'delete_volume', 'extend_volume', 'toString', 'constructor']) t.is(progressKey({ id: 'op', kind, resourceId: 'v1' }), null, kind);
});

test('the board answers with the latest report of the operation\'s work, in its phase only, and forgets the oldest past its size', (t) => {
  const board = new ProgressBoard(2);
  const restore = { id: 'op-r', kind: 'restore_backup', resourceId: 'b1' };
  board.record(backupProgressKey('b1', 'backup'), 10, 40);
  t.is(board.of(restore), null, 'a backup phase report is not the restore\'s progress');
  t.deepEqual(board.of({ id: 'op-b', kind: 'create_backup', resourceId: 'b1' }), { bytesDone: 10, bytesTotal: 40, percent: 25 });
  board.record(backupProgressKey('b1', 'backup'), 30, 40);
  t.deepEqual(board.of({ id: 'op-b', kind: 'create_backup', resourceId: 'b1' }), { bytesDone: 30, bytesTotal: 40, percent: 75 });
  board.record(migrationProgressKey('m1'), 1, 3);
  t.deepEqual(board.of({ id: 'm1', kind: 'migrate_volume', resourceId: 'v' }), { bytesDone: 1, bytesTotal: 3, percent: 33.3 });
  board.record(migrationProgressKey('m2'), 0, 0);
  t.deepEqual(board.of({ id: 'm2', kind: 'migrate_volume', resourceId: 'v' }), { bytesDone: 0, bytesTotal: 0, percent: 0 });
  t.is(board.of({ id: 'op-b', kind: 'create_backup', resourceId: 'b1' }), null, 'the oldest was forgotten');
});
