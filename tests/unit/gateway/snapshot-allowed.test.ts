/** Which volumes can be snapshotted (src/gateway/mutations/snapshot.ts): the volume action `snapshot`, with the `force` hint. */
import 'reflect-metadata';
import test from 'ava';
import { InvalidStateError } from '../../../src/domain/errors.js';
import { VOLUME_STATUSES } from '../../../src/domain/volume-states.js';
import { snapshotAllowed } from '../../../src/gateway/mutations/snapshot.js';

const volume = (status: (typeof VOLUME_STATUSES)[number], host: string | null = 'h', pool: string | null = 'p') => ({ id: 'v1', status, host, pool });

test('an AVAILABLE volume on a pool can be snapshotted, with or without force', (t) => {
  t.is(snapshotAllowed(volume('available')), 'snapshot');
  t.is(snapshotAllowed(volume('available'), true), 'snapshot');
});

test('an IN_USE volume needs force, and the refusal says so', (t) => {
  t.is(snapshotAllowed(volume('in_use'), true), 'snapshotInUse');
  const err = t.throws(() => snapshotAllowed(volume('in_use')), { instanceOf: InvalidStateError });
  t.regex(err!.message, /is IN_USE and cannot be snapshotted; allowed from: AVAILABLE\. .*attached: snapshot it with `force: true`/);
});

test('any other state is INVALID_STATE naming the state, what is allowed, and what force allows, with or without force', (t) => {
  for (const force of [false, true]) {
    for (const status of VOLUME_STATUSES.filter((s) => s !== 'available' && s !== 'in_use')) {
      const err = t.throws(() => snapshotAllowed(volume(status), force), { instanceOf: InvalidStateError });
      t.regex(err!.message, new RegExp(`is ${status.toUpperCase()} and cannot be snapshotted; allowed from: AVAILABLE`));
      t.regex(err!.message, /IN_USE \(attached\) one with `force: true`/);
      t.is(err!.code, 'INVALID_STATE');
      t.deepEqual(err!.details?.allowedStatuses, ['AVAILABLE']);
    }
  }
});

test('a volume without a pool cannot be snapshotted', (t) => {
  t.throws(() => snapshotAllowed(volume('available', null, null)), { instanceOf: InvalidStateError });
});
