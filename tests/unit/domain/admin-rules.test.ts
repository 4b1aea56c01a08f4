/** Which statuses an admin may reset to (src/domain/admin-rules.ts). */
import test from 'ava';
import { checkReason, REASON_MAX, snapshotResetRefusal, volumeResetRefusal } from '../../../src/domain/admin-rules.js';
import { BadInputError } from '../../../src/domain/errors.js';
import { SNAPSHOT_STATUSES } from '../../../src/domain/snapshot-states.js';
import { TRANSITIONAL_STATUSES, VOLUME_STATUSES } from '../../../src/domain/volume-states.js';
import { Problems } from '../../../src/domain/volume-input.js';

const placed = { host: 'host-a' };
const unplaced = { host: null };

test('a placed volume may be reset to AVAILABLE and to every ERROR state, and to nothing else', (t) => {
  const allowed = VOLUME_STATUSES.filter((s) => volumeResetRefusal(s, placed) === null);
  t.deepEqual(allowed, ['available', 'error', 'error_deleting', 'error_extending', 'error_restoring']);
});

test('a volume that never reached a pool cannot be AVAILABLE: it has no image', (t) => {
  t.regex(volumeResetRefusal('available', unplaced)!, /never reached a pool/);
  t.is(volumeResetRefusal('error', unplaced), null);
});

test('attachment states are refused, saying Flint has no attachments yet', (t) => {
  for (const s of ['in_use', 'attaching', 'detaching', 'reserved'] as const) {
    t.regex(volumeResetRefusal(s, placed)!, /no attachments yet/, s);
  }
});

test('DELETED is refused, pointing at forceDeleteVolume', (t) => {
  t.regex(volumeResetRefusal('deleted', placed)!, /forceDeleteVolume/);
});

test('every transitional state is refused: a reset must not claim work is under way', (t) => {
  for (const s of TRANSITIONAL_STATUSES) {
    const why = volumeResetRefusal(s, placed);
    t.truthy(why, s);
    if (!['reserved', 'attaching', 'detaching'].includes(s)) t.regex(why!, /transitional/, s);
  }
});

test('a snapshot may be reset to AVAILABLE, ERROR or ERROR_DELETING only', (t) => {
  t.deepEqual(SNAPSHOT_STATUSES.filter((s) => snapshotResetRefusal(s) === null), ['available', 'error', 'error_deleting']);
  t.regex(snapshotResetRefusal('deleted')!, /deleteSnapshot/);
  t.regex(snapshotResetRefusal('creating')!, /transitional/);
  t.regex(snapshotResetRefusal('deleting')!, /transitional/);
});

test('the reason is required, not blank, and at most 1024 characters', (t) => {
  const check = (r: string | null | undefined) => {
    const p = new Problems();
    checkReason(p, r);
    return p;
  };
  for (const bad of [undefined, null, '', '   ', 'x'.repeat(REASON_MAX + 1)]) {
    t.throws(() => check(bad).throwIfAny(), { instanceOf: BadInputError });
  }
  t.notThrows(() => check('x').throwIfAny());
  t.notThrows(() => check('é'.repeat(REASON_MAX)).throwIfAny());
});
