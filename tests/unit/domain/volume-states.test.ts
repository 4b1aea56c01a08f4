/** The volume state machine of src/domain/volume-states.ts, checked over every state × action. */
import test from 'ava';
import { InvalidStateError } from '../../../src/domain/errors.js';
import {
  TRANSITIONAL_STATUSES,
  VOLUME_ACTIONS,
  VOLUME_OUTCOMES,
  VOLUME_STATUSES,
  actionTransition,
  assertCanStart,
  fromApiStatus,
  invalidState,
  isFinal,
  outcomeTransition,
  toApiStatus,
  type VolumeAction,
  type VolumeOutcome,
  type VolumeStatus,
} from '../../../src/domain/volume-states.js';

const DELETABLE: VolumeStatus[] = ['available', 'error', 'error_deleting', 'error_extending', 'error_restoring'];

/** What each action is expected to allow, written out rather than read back from the table under test. */
const EXPECTED_ACTIONS: Record<VolumeAction, { from: VolumeStatus[]; to: VolumeStatus | null; verb: string }> = {
  delete: { from: DELETABLE, to: 'deleting', verb: 'deleted' },
  extend: { from: ['available', 'in_use'], to: 'extending', verb: 'extended' },
  snapshot: { from: ['available'], to: null, verb: 'snapshotted' },
  snapshotInUse: { from: ['in_use'], to: null, verb: 'snapshotted while attached' },
  revert: { from: ['available'], to: 'reverting', verb: 'reverted to a snapshot' },
  migrate: { from: ['available'], to: 'maintenance', verb: 'migrated' },
  retype: { from: ['available'], to: 'retyping', verb: 'retyped' },
  update: { from: VOLUME_STATUSES.filter((s) => s !== 'deleting' && s !== 'deleted' && s !== 'maintenance'), to: null, verb: 'updated' },
  backup: { from: ['available'], to: 'backing_up', verb: 'backed up' },
  backupInUse: { from: ['in_use'], to: null, verb: 'backed up while attached' },
  restore: { from: ['available'], to: 'restoring_backup', verb: 'restored from a backup' },
  transfer: { from: ['available'], to: 'awaiting_transfer', verb: 'transferred' },
};

const EXPECTED_OUTCOMES: Record<VolumeOutcome, { from: VolumeStatus[]; to: VolumeStatus }> = {
  'create.succeeded': { from: ['creating'], to: 'available' },
  'create.failed': { from: ['creating'], to: 'error' },
  'delete.succeeded': { from: ['deleting'], to: 'deleted' },
  'delete.failed': { from: ['deleting'], to: 'error_deleting' },
  'extend.succeeded': { from: ['extending'], to: 'available' },
  'extend.rejected': { from: ['extending'], to: 'available' },
  'extend.failed': { from: ['extending'], to: 'error_extending' },
  'revert.succeeded': { from: ['reverting'], to: 'available' },
  'revert.failed': { from: ['reverting'], to: 'error' },
  'migrate.succeeded': { from: ['maintenance', 'retyping'], to: 'available' },
  'migrate.failed': { from: ['maintenance', 'retyping'], to: 'available' },
  'retype.succeeded': { from: ['retyping'], to: 'available' },
  'retype.rejected': { from: ['retyping'], to: 'available' },
  'backup.finished': { from: ['backing_up'], to: 'available' },
  'restore.succeeded': { from: ['restoring_backup'], to: 'available' },
  'restore.failed': { from: ['restoring_backup'], to: 'error_restoring' },
};

const EXPECTED_TRANSITIONAL: VolumeStatus[] = [
  'creating',
  'reserved',
  'attaching',
  'detaching',
  'extending',
  'retyping',
  'maintenance',
  'backing_up',
  'restoring_backup',
  'reverting',
  'deleting',
];

const HINT = 'Wait until its current operation finishes, then retry.';

test('the action table has exactly the actions backup, backupInUse, delete, extend, migrate, restore, retype, revert, snapshot, snapshotInUse, transfer and update', (t) => {
  t.deepEqual(Object.keys(VOLUME_ACTIONS).sort(), ['backup', 'backupInUse', 'delete', 'extend', 'migrate', 'restore', 'retype', 'revert', 'snapshot', 'snapshotInUse', 'transfer', 'update']);
});

test('a volume in MAINTENANCE (migrating) refuses every action, updates included', (t) => {
  for (const action of Object.keys(VOLUME_ACTIONS) as VolumeAction[]) {
    const err = t.throws(() => assertCanStart(action, 'maintenance', 'v-9'), { instanceOf: InvalidStateError }, action);
    t.true(err.message.includes('Wait until its current operation finishes'), err.message);
  }
});

test('snapshot starts only from available and keeps the status', (t) => {
  t.deepEqual([...VOLUME_ACTIONS.snapshot.from], ['available']);
  t.is(VOLUME_ACTIONS.snapshot.to, null);
});

test('the statuses are Cinder\'s vocabulary plus deleted, without duplicates', (t) => {
  // reverting is Flint's own (Cinder reverts in `reverting` too, since Pike).
  t.is(new Set(VOLUME_STATUSES).size, VOLUME_STATUSES.length);
  for (const s of ['creating', 'available', 'reserved', 'attaching', 'in_use', 'detaching', 'extending', 'retyping', 'maintenance',
    'backing_up', 'restoring_backup', 'reverting', 'deleting', 'deleted', 'error', 'error_deleting', 'error_extending', 'error_restoring', 'awaiting_transfer']) {
    t.true((VOLUME_STATUSES as readonly string[]).includes(s), s);
  }
  t.is(VOLUME_STATUSES.length, 19);
});

for (const action of Object.keys(EXPECTED_ACTIONS) as VolumeAction[]) {
  const expected = EXPECTED_ACTIONS[action];
  for (const status of VOLUME_STATUSES) {
    if (expected.from.includes(status)) {
      const target = expected.to ?? status;
      test(`${action} may start from ${status} and leads to ${target}`, (t) => {
        t.is(assertCanStart(action, status), target);
        t.is(assertCanStart(action, status, 'v-1'), target, 'the volume id changes nothing when allowed');
      });
    } else {
      test(`${action} from ${status} is INVALID_STATE naming ${toApiStatus(status)} and the allowed states`, (t) => {
        const err = t.throws(() => assertCanStart(action, status), { instanceOf: InvalidStateError });
        t.is(err.code, 'INVALID_STATE');
        t.true(err.message.startsWith(`The volume is ${status.toUpperCase()} and cannot be ${expected.verb}; `), err.message);
        t.true(err.message.includes(`allowed from: ${expected.from.map((s) => s.toUpperCase()).join(', ')}.`), err.message);
        t.deepEqual(err.details, {
          currentStatus: status.toUpperCase(),
          allowedStatuses: expected.from.map((s) => s.toUpperCase()),
        });
      });
    }
  }
}

test('an INVALID_STATE error names the volume by id when one is given', (t) => {
  const err = t.throws(() => assertCanStart('extend', 'reserved', 'vol-42'), { instanceOf: InvalidStateError });
  t.is(err.code, 'INVALID_STATE');
  t.true(err.message.startsWith('Volume vol-42 is RESERVED and cannot be extended; allowed from: AVAILABLE, IN_USE.'), err.message);
});

test('actionTransition returns the same transition the checks use', (t) => {
  for (const action of Object.keys(EXPECTED_ACTIONS) as VolumeAction[]) {
    const tr = actionTransition(action);
    t.deepEqual([...tr.from], EXPECTED_ACTIONS[action].from, action);
    t.is(tr.to, EXPECTED_ACTIONS[action].to, action);
    t.is(tr.verb, EXPECTED_ACTIONS[action].verb, action);
  }
});

test('the outcome table has exactly the expected outcomes', (t) => {
  t.deepEqual(Object.keys(VOLUME_OUTCOMES).sort(), Object.keys(EXPECTED_OUTCOMES).sort());
});

for (const outcome of Object.keys(EXPECTED_OUTCOMES) as VolumeOutcome[]) {
  const { from, to } = EXPECTED_OUTCOMES[outcome];
  test(`${outcome} applies only from ${from.join(', ')} and leads to ${to}`, (t) => {
    const tr = outcomeTransition(outcome);
    t.deepEqual([...tr.from], from);
    t.is(tr.to, to);
    t.true(tr.verb.length > 0);
  });
}

test('an outcome applied from a wrong state explains itself as INVALID_STATE', (t) => {
  const err = invalidState(outcomeTransition('delete.succeeded'), 'available', 'v1');
  t.true(err instanceof InvalidStateError);
  t.is(err.code, 'INVALID_STATE');
  t.is(err.message, 'Volume v1 is AVAILABLE and cannot be marked deleted; allowed from: DELETING.');
  t.deepEqual(err.details, { currentStatus: 'AVAILABLE', allowedStatuses: ['DELETING'] });
});

for (const status of VOLUME_STATUSES) {
  test(`${status} round-trips through its API spelling ${status.toUpperCase()}`, (t) => {
    const api = toApiStatus(status);
    t.is(api, status.toUpperCase());
    t.is(fromApiStatus(api), status);
  });
}

test('fromApiStatus accepts any case but no unknown status', (t) => {
  t.is(fromApiStatus('in_use'), 'in_use');
  t.is(fromApiStatus('In_Use'), 'in_use');
  t.is(fromApiStatus('INUSE'), undefined);
  t.is(fromApiStatus('IN-USE'), undefined);
  t.is(fromApiStatus(''), undefined);
  t.is(fromApiStatus('ATTACHED'), undefined);
});

test('the transitional statuses are exactly those in which work is under way', (t) => {
  t.deepEqual([...TRANSITIONAL_STATUSES].sort(), [...EXPECTED_TRANSITIONAL].sort());
});

for (const status of VOLUME_STATUSES) {
  const transitional = EXPECTED_TRANSITIONAL.includes(status);
  test(`${status} is ${transitional ? 'transitional, not final' : 'final'}`, (t) => {
    t.is(isFinal(status), !transitional);
  });
}

for (const status of VOLUME_STATUSES) {
  const transitional = EXPECTED_TRANSITIONAL.includes(status);
  test(`an INVALID_STATE error from ${status} ${transitional ? 'tells what to do (wait, or finish the attachment)' : 'has no wait hint'}`, (t) => {
    // `extend` starts only from available, so every other state is refused by it.
    const err = invalidState(actionTransition('extend'), status);
    if (status === 'reserved' || status === 'attaching') t.regex(err.message, /An attachment .* complete it \(completeAttachment\).* or delete it \(deleteAttachment\); then retry\.$/);
    else if (transitional) t.true(err.message.endsWith(` ${HINT}`), err.message);
    else t.false(err.message.includes('Wait until'), err.message);
  });
}
