/** Progress pushes deadlines (src/domain/deadlines.ts, `progressExtension`). */
import test from 'ava';
import { deadlineExtendThrottleMs, deadlineMessage, PROGRESS_EXTENDED_KINDS, progressExtension } from '../../../src/domain/deadlines.js';

const now = new Date('2026-01-01T00:00:00Z');

test('the throttle is timeout/10, at least 250 ms', (t) => {
  t.is(deadlineExtendThrottleMs(900), 90_000);
  t.is(deadlineExtendThrottleMs(3), 300);
  t.is(deadlineExtendThrottleMs(1), 250);
});

test('a first report pushes the deadline to now + timeout, guarded by the throttle', (t) => {
  const step = progressExtension({ doneBytes: 10 }, undefined, now, 900);
  t.truthy(step);
  t.is(step!.to.toISOString(), '2026-01-01T00:15:00.000Z');
  // Only a deadline older than to - timeout/10 is moved: the others were pushed moments ago.
  t.is(step!.onlyIfBefore.toISOString(), '2026-01-01T00:13:30.000Z');
});

test('bytes that grew are progress', (t) => {
  t.truthy(progressExtension({ doneBytes: 11 }, 10, now, 900));
});

test('the same bytes again are no progress: the deadline stays', (t) => {
  t.is(progressExtension({ doneBytes: 10 }, 10, now, 900), null);
  t.is(progressExtension({ doneBytes: 9 }, 10, now, 900), null);
});

test('backups, restores, verifies and migrations (retypes too) are extended; other operations are not', (t) => {
  for (const k of ['create_backup', 'restore_backup', 'verify_backup', 'migrate_volume', 'retype_volume'] as const) t.true(PROGRESS_EXTENDED_KINDS.includes(k));
  for (const k of ['create_volume', 'delete_backup', 'extend_volume', 'create_snapshot'] as const) t.false(PROGRESS_EXTENDED_KINDS.includes(k));
});

test('the deadline message of work extended by progress says its progress stopped', (t) => {
  t.regex(deadlineMessage('create_backup', 3), /^No agent answered or reported progress for 3 s, so the create_backup operation was given up/);
  t.regex(deadlineMessage('create_volume', 3), /^No agent or scheduler answered within 3 s/);
});
