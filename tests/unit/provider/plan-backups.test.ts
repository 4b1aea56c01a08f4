import test from 'ava';
import { formatPlan, planStack, type ActualBackup, type Change, type Stack } from '../../../src/provider/index.js';
import { actualVolume } from './fixtures.js';

const NOW = Date.parse('2026-12-07T12:34:00Z');
const HOUR = 3600_000;
const db = actualVolume('db');

const backup = (id: string, hoursAgo: number, over: Partial<ActualBackup> = {}): ActualBackup => ({
  id,
  volumeId: 'id-db',
  name: id,
  status: 'AVAILABLE',
  version: 1,
  createdAt: new Date(NOW - hoursAgo * HOUR).toISOString(),
  idempotencyKey: `flint-apply/web/db/backup/${id}`,
  ...over,
});
const stack = (keep = 3, every = '1d'): Stack => ({ stack: 'web', volumes: { db: { sizeGiB: 10, backupPolicy: { every, keep, incremental: true } } } });
const plan = (backups: ActualBackup[], s = stack()) => planStack(s, { volumes: [db], backups }, { now: NOW });
const summary = (changes: Change[]) => changes.map((c) => `${c.action} ${'actual' in c ? c.actual.id : 'new'}`);

test('no backup yet: one is taken, named and keyed for the period it is in', (t) => {
  const p = plan([]);
  const [c] = p.changes;
  t.like(c, { kind: 'backup', action: 'create', resource: 'db', reasons: ['no backup yet'], desired: { name: 'web-db-2026-12-07T00:00Z', incremental: true, force: false, window: Date.parse('2026-12-07T00:00:00Z') / 1000 } });
  t.regex(formatPlan(p), /\+ backup\.db will be created\n\s+# no backup yet\n\s+volume: volume\.db\n\s+name: "web-db-2026-12-07T00:00Z"/);
});

test('a backup younger than the period: nothing to do', (t) => {
  const p = plan([backup('b1', 5)]);
  t.deepEqual(p.changes, []);
  t.regex(formatPlan(p), /^No changes\./m);
});

test('the newest is a period old: a new one, and the oldest beyond keep go once it is made', (t) => {
  const p = plan([backup('b1', 25), backup('b2', 49), backup('b3', 73), backup('b4', 97)]);
  t.deepEqual(summary(p.changes), ['create new', 'delete b3', 'delete b4']);
  t.like(p.changes[0], { reasons: ['the newest is 25h old (every 1d)'] });
  t.deepEqual((p.changes[1] as Extract<Change, { action: 'delete' }>).reasons, ['older than the newest 3 (keep: 3)']);
});

test('a backup still being made is not taken again; failed ones are deleted', (t) => {
  const p = plan([backup('b0', 30, { status: 'CREATING' }), backup('bad', 40, { status: 'ERROR' }), backup('b1', 50)]);
  t.deepEqual(summary(p.changes), ['delete bad']);
  t.deepEqual((p.changes[0] as Extract<Change, { action: 'delete' }>).reasons, ['it failed (ERROR)']);
});

test('backups not made by this policy are neither counted nor deleted', (t) => {
  const byHand = backup('manual', 1, { idempotencyKey: null });
  const otherStack = backup('other', 2, { idempotencyKey: 'flint-apply/other/db/backup/1' });
  const otherVolume = backup('gone', 3, { volumeId: 'id-old' });
  const p = plan([byHand, otherStack, otherVolume, backup('b1', 30), backup('b2', 60)], stack(1));
  t.deepEqual(summary(p.changes), ['create new', 'delete b1', 'delete b2']);
});

test('a new volume gets its first backup in the same apply', (t) => {
  const p = planStack(stack(), {}, { now: NOW });
  t.deepEqual(p.changes.map((c) => `${c.action} ${c.kind}.${c.resource}`), ['create volume.db', 'create backup.db']);
  t.like(p.changes[1], { reasons: ['volume.db is new: its first backup'] });
});
