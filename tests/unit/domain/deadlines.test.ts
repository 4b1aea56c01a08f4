/** The recovery rules of src/domain/deadlines.ts: deadlines, the sweeper's table, late outcomes. */
import test from 'ava';
import {
  DEADLINE_ERROR_CODE,
  DEADLINE_RULES,
  deadlineMessage,
  deadlineRule,
  failedByDeadline,
  IMAGE_EXPECTED_STATUSES,
  LATE_CREATE_EVENT,
  LATE_EXTEND_EVENT,
  lateOutcomeRule,
  missingImageMessage,
  operationDeadline,
  sweepIntervalMs,
} from '../../../src/domain/deadlines.js';
import { TRANSITIONAL_STATUSES, VOLUME_ACTIONS, VOLUME_OUTCOMES } from '../../../src/domain/volume-states.js';
import { SNAPSHOT_ACTIONS, SNAPSHOT_OUTCOMES } from '../../../src/domain/snapshot-states.js';

const byDeadline = { status: 'failed', errorCode: DEADLINE_ERROR_CODE };

test('the deadline is createdAt + timeout', (t) => {
  t.is(operationDeadline(new Date('2026-01-01T00:00:00Z'), 900).toISOString(), '2026-01-01T00:15:00.000Z');
});

test('the sweep interval is timeout/30 between 1 s and 30 s', (t) => {
  t.is(sweepIntervalMs(3), 1_000);
  t.is(sweepIntervalMs(90), 3_000);
  t.is(sweepIntervalMs(900), 30_000);
  t.is(sweepIntervalMs(7 * 24 * 3600), 30_000);
});

test('each operation kind moves its resource from the state its action set to the matching error state', (t) => {
  t.like(DEADLINE_RULES.create_volume, { resourceType: 'volume', from: ['creating'], to: 'error', capacity: 'release' });
  t.like(DEADLINE_RULES.extend_volume, { resourceType: 'volume', from: ['extending'], to: 'error_extending', capacity: 'shrink' });
  t.like(DEADLINE_RULES.delete_volume, { resourceType: 'volume', from: ['deleting'], to: 'error_deleting', capacity: null });
  t.like(DEADLINE_RULES.create_snapshot, { resourceType: 'snapshot', from: ['creating'], to: 'error', capacity: null });
  t.like(DEADLINE_RULES.delete_snapshot, { resourceType: 'snapshot', from: ['deleting'], to: 'error_deleting', capacity: null });
  t.is(deadlineRule('update_volume'), undefined);
  t.is(deadlineRule('toString'), undefined);
});

test('the table agrees with the state machines: the same states the outcomes start from and fail to', (t) => {
  t.deepEqual([...DEADLINE_RULES.create_volume!.from], [...VOLUME_OUTCOMES['create.failed'].from]);
  t.is(DEADLINE_RULES.create_volume!.to, VOLUME_OUTCOMES['create.failed'].to);
  t.is(DEADLINE_RULES.extend_volume!.to, VOLUME_OUTCOMES['extend.failed'].to);
  t.is(DEADLINE_RULES.delete_volume!.to, VOLUME_OUTCOMES['delete.failed'].to);
  t.is(DEADLINE_RULES.create_snapshot!.to, SNAPSHOT_OUTCOMES['create.failed'].to);
  t.is(DEADLINE_RULES.delete_snapshot!.to, SNAPSHOT_OUTCOMES['delete.failed'].to);
  for (const rule of Object.values(DEADLINE_RULES)) {
    if (rule.resourceType === 'volume') {
      for (const s of rule.from) t.true(TRANSITIONAL_STATUSES.includes(s), s);
      // A user can always get rid of what the sweeper left.
      t.true((VOLUME_ACTIONS.delete.from as readonly string[]).includes(rule.to), rule.to);
    } else {
      t.true((SNAPSHOT_ACTIONS.delete.from as readonly string[]).includes(rule.to), rule.to);
    }
  }
});

test('the message says how long, what, where to look, and what to do', (t) => {
  const m = deadlineMessage('create_volume', 3);
  t.regex(m, /within 3 s/);
  t.regex(m, /create_volume/);
  t.regex(m, /flint service list/);
  t.regex(m, /delete it and create it again/);
  t.notRegex(deadlineMessage('backup_volume', 60), /undefined/);
});

test('failedByDeadline: only a FAILED operation with SERVICE_UNAVAILABLE', (t) => {
  t.true(failedByDeadline(byDeadline));
  t.false(failedByDeadline({ status: 'failed', errorCode: 'INTERNAL' }));
  t.false(failedByDeadline({ status: 'running', errorCode: null }));
});

test('a late create.succeeded for a volume the deadline failed keeps it ERROR, counts its space again and says the image exists', (t) => {
  const rule = lateOutcomeRule('volume', 'create.succeeded', 'error', byDeadline)!;
  t.truthy(rule);
  t.deepEqual([...rule.from], ['error']);
  t.is(rule.to, null);
  t.is(rule.capacity, 'reserve');
  t.is(rule.event, LATE_CREATE_EVENT);
  const text = rule.message({ host: 'node1', pool: 'p' })!;
  t.regex(text, /image now exists/);
  t.regex(text, /node1/);
  t.regex(text, /delete the volume normally/);
});

test('a late create.succeeded is ignored when the create failed for another reason, or the volume moved on', (t) => {
  t.is(lateOutcomeRule('volume', 'create.succeeded', 'error', { status: 'failed', errorCode: 'NO_VALID_BACKEND' }), null);
  t.is(lateOutcomeRule('volume', 'create.succeeded', 'error', null), null);
  t.is(lateOutcomeRule('volume', 'create.succeeded', 'deleting', byDeadline), null);
  t.is(lateOutcomeRule('volume', 'create.succeeded', 'deleted', byDeadline), null);
  t.is(lateOutcomeRule('volume', 'create.failed', 'error', byDeadline), null);
});

test('a late delete.succeeded for ERROR_DELETING marks it DELETED and frees its space', (t) => {
  const rule = lateOutcomeRule('volume', 'delete.succeeded', 'error_deleting', byDeadline)!;
  t.deepEqual([...rule.from], ['error_deleting']);
  t.is(rule.to, 'deleted');
  t.is(rule.capacity, 'release');
  t.is(rule.message({}), null);
  t.is(lateOutcomeRule('volume', 'delete.succeeded', 'available', byDeadline), null);
  t.is(lateOutcomeRule('volume', 'delete.failed', 'error_deleting', byDeadline), null);
});

test('a late extend.succeeded for ERROR_EXTENDING the deadline failed makes the volume usable at its new size', (t) => {
  const rule = lateOutcomeRule('volume', 'extend.succeeded', 'error_extending', byDeadline)!;
  t.deepEqual([...rule.from], ['error_extending']);
  t.is(rule.to, 'available');
  t.is(rule.capacity, 'grow');
  t.is(rule.event, LATE_EXTEND_EVENT);
  t.regex(rule.message({})!, /new size/);
  t.is(lateOutcomeRule('volume', 'extend.succeeded', 'error_extending', { status: 'failed', errorCode: 'INTERNAL' }), null, 'an extend the agent failed stays failed');
  t.is(lateOutcomeRule('volume', 'extend.succeeded', 'available', byDeadline), null);
  t.is(lateOutcomeRule('snapshot', 'extend.succeeded', 'error_extending', byDeadline), null);
});

test('snapshots follow the same late rules, without capacity', (t) => {
  t.like(lateOutcomeRule('snapshot', 'create.succeeded', 'error', byDeadline), { to: null, capacity: null, event: LATE_CREATE_EVENT });
  t.regex(lateOutcomeRule('snapshot', 'create.succeeded', 'error', byDeadline)!.message({})!, /delete it normally/);
  t.like(lateOutcomeRule('snapshot', 'delete.succeeded', 'error_deleting', byDeadline), { to: 'deleted', capacity: null });
});

test('a missing image is looked for only in settled states that need one', (t) => {
  for (const s of ['creating', 'deleting', 'error', 'error_deleting', 'extending'] as const) t.false(IMAGE_EXPECTED_STATUSES.includes(s), s);
  for (const s of ['available', 'error_extending'] as const) t.true(IMAGE_EXPECTED_STATUSES.includes(s), s);
  t.is(missingImageMessage('node1', 'fast'), 'The image of this volume is missing on host node1 (pool fast); restore it or delete the volume.');
  t.regex(missingImageMessage('node1', 'gone', false), /no pool gone/);
});
