/** The attachment state machine and the volume rules of src/domain/attachment-states.ts, over every state. */
import test from 'ava';
import { InvalidStateError } from '../../../src/domain/errors.js';
import {
  ATTACH_FAMILY,
  ATTACHMENT_ACTIONS,
  ATTACHMENT_OUTCOMES,
  ATTACHMENT_STATUSES,
  LIVE_ATTACHMENT_STATUSES,
  assertAttachmentCanStart,
  checkComplete,
  checkNewAttachment,
  deletePlan,
  multiattachFromExtraSpecs,
  volumeHasAttachments,
  volumeStatusFromAttachments,
  type AttachmentAction,
  type AttachmentOutcome,
  type AttachmentStatus,
} from '../../../src/domain/attachment-states.js';
import { VOLUME_STATUSES, type VolumeStatus } from '../../../src/domain/volume-states.js';

/** Written out, not read back from the table under test. */
const EXPECTED_ACTIONS: Record<AttachmentAction, { from: AttachmentStatus[]; to: AttachmentStatus }> = {
  update: { from: ['reserved'], to: 'attaching' },
  complete: { from: ['attaching'], to: 'attached' },
  delete: { from: ['reserved', 'attaching', 'attached', 'error_attaching', 'error_detaching'], to: 'detaching' },
  forceDetach: { from: ['reserved', 'attaching', 'attached', 'detaching', 'error_attaching', 'error_detaching'], to: 'detaching' },
};

const EXPECTED_OUTCOMES: Record<AttachmentOutcome, { from: AttachmentStatus[]; to: AttachmentStatus | null }> = {
  'export.succeeded': { from: ['attaching'], to: null },
  'export.failed': { from: ['attaching'], to: 'error_attaching' },
  'export.timeout': { from: ['attaching'], to: 'error_attaching' },
  'unexport.succeeded': { from: ['detaching'], to: 'detached' },
  'unexport.failed': { from: ['detaching'], to: 'error_detaching' },
  'unexport.timeout': { from: ['detaching'], to: 'error_detaching' },
};

test('the statuses are Cinder\'s seven attachment states', (t) => {
  t.deepEqual([...ATTACHMENT_STATUSES].sort(), ['attached', 'attaching', 'detached', 'detaching', 'error_attaching', 'error_detaching', 'reserved']);
  t.deepEqual([...LIVE_ATTACHMENT_STATUSES].sort(), ATTACHMENT_STATUSES.filter((s) => s !== 'detached').sort());
});

test('the action and outcome tables are exactly the expected ones', (t) => {
  t.deepEqual(Object.keys(ATTACHMENT_ACTIONS).sort(), Object.keys(EXPECTED_ACTIONS).sort());
  t.deepEqual(Object.keys(ATTACHMENT_OUTCOMES).sort(), Object.keys(EXPECTED_OUTCOMES).sort());
  for (const [name, e] of Object.entries(EXPECTED_OUTCOMES)) {
    const got = ATTACHMENT_OUTCOMES[name as AttachmentOutcome];
    t.deepEqual([...got.from].sort(), [...e.from].sort(), name);
    t.is(got.to as AttachmentStatus | null, e.to, name);
  }
});

for (const action of Object.keys(EXPECTED_ACTIONS) as AttachmentAction[]) {
  for (const status of ATTACHMENT_STATUSES) {
    const e = EXPECTED_ACTIONS[action];
    if (e.from.includes(status)) {
      test(`${action} starts from ${status} and goes ${e.to}`, (t) => {
        t.is(assertAttachmentCanStart(action, status, 'a1'), e.to);
      });
    } else {
      test(`${action} is refused from ${status}, naming the state and the allowed ones`, (t) => {
        const err = t.throws(() => assertAttachmentCanStart(action, status, 'a1'), { instanceOf: InvalidStateError });
        t.is(err?.code, 'INVALID_STATE');
        t.true(err?.message.startsWith(`Attachment a1 is ${status.toUpperCase()} and cannot be`));
        t.deepEqual(err?.details?.allowedStatuses, e.from.map((s) => s.toUpperCase()));
        t.is(err?.message.includes('Wait until its current operation finishes'), status === 'attaching' || status === 'detaching');
      });
    }
  }
}

test('complete needs the export ready; an ATTACHED attachment completes again without change', (t) => {
  t.is(checkComplete({ id: 'a', status: 'attaching', exported: true }), 'complete');
  t.is(checkComplete({ id: 'a', status: 'attached', exported: true }), 'noop');
  const early = t.throws(() => checkComplete({ id: 'a', status: 'attaching', exported: false }), { instanceOf: InvalidStateError });
  t.regex(early!.message, /connectionInfo is null/);
  for (const s of ['reserved', 'detaching', 'detached', 'error_attaching', 'error_detaching'] as const) {
    t.throws(() => checkComplete({ id: 'a', status: s, exported: true }), { instanceOf: InvalidStateError }, s);
  }
});

test('delete detaches at once what was never exported, else asks the agent', (t) => {
  t.is(deletePlan({ status: 'reserved', hasHost: true, exportRequested: false }), 'detach');
  t.is(deletePlan({ status: 'attaching', hasHost: false, exportRequested: true }), 'detach');
  t.is(deletePlan({ status: 'attached', hasHost: true, exportRequested: true }), 'unexport');
  t.is(deletePlan({ status: 'error_attaching', hasHost: true, exportRequested: true }), 'unexport');
  t.is(deletePlan({ status: 'error_attaching', hasHost: true, exportRequested: false }), 'detach');
});

test('the volume status follows its attachments: IN_USE, ATTACHING, DETACHING, RESERVED, AVAILABLE in that order', (t) => {
  const s = (a: AttachmentStatus[]) => volumeStatusFromAttachments('in_use', a);
  t.is(s([]), 'available');
  t.is(s(['detached']), 'available');
  t.is(s(['reserved']), 'reserved');
  t.is(s(['error_attaching']), 'reserved');
  t.is(s(['error_detaching', 'detached']), 'reserved');
  t.is(s(['attaching']), 'attaching');
  t.is(s(['attaching', 'reserved']), 'attaching');
  t.is(s(['detaching']), 'detaching');
  t.is(s(['detaching', 'attaching']), 'attaching');
  t.is(s(['attached']), 'in_use');
  t.is(s(['attached', 'detaching', 'attaching']), 'in_use');
});

test('a volume outside the attach family keeps its status whatever its attachments', (t) => {
  for (const v of VOLUME_STATUSES.filter((x) => !ATTACH_FAMILY.includes(x))) {
    t.is(volumeStatusFromAttachments(v, ['attached']), v, v);
    t.is(volumeStatusFromAttachments(v, []), v, v);
  }
  for (const v of ATTACH_FAMILY) t.is(volumeStatusFromAttachments(v, []), 'available', v);
});

test('multiattach comes from the extra spec "<is> True", as Cinder reads it', (t) => {
  t.true(multiattachFromExtraSpecs({ multiattach: '<is> True' }));
  t.true(multiattachFromExtraSpecs({ multiattach: 'True' }));
  t.true(multiattachFromExtraSpecs({ multiattach: '<is>true' }));
  t.false(multiattachFromExtraSpecs({ multiattach: '<is> False' }));
  t.false(multiattachFromExtraSpecs({ multiattach: 'yes' }));
  t.false(multiattachFromExtraSpecs({}));
  t.false(multiattachFromExtraSpecs(null));
});

const vol = (status: VolumeStatus, multiattach = false, hasPool = true) => ({ id: 'v1', status, multiattach, hasPool });

test('a first attachment needs an AVAILABLE volume on a pool', (t) => {
  t.notThrows(() => checkNewAttachment(vol('available'), []));
  for (const s of VOLUME_STATUSES.filter((x) => x !== 'available')) {
    const err = t.throws(() => checkNewAttachment(vol(s), []), { instanceOf: InvalidStateError }, s);
    t.regex(err!.message, new RegExp(`Volume v1 is ${s.toUpperCase()} and cannot be attached`));
  }
  t.throws(() => checkNewAttachment(vol('available', false, false), []), { instanceOf: InvalidStateError });
});

test('a second attachment of a volume without multiattach is INVALID_STATE naming the first', (t) => {
  for (const s of ['available', 'in_use', 'reserved'] as const) {
    const err = t.throws(() => checkNewAttachment(vol(s), [{ id: 'a1', status: 'attached' }]), { instanceOf: InvalidStateError });
    t.regex(err!.message, /already attached \(attachments: a1 \(ATTACHED\)\) and is not multiattach/);
    t.deepEqual(err!.details?.attachmentIds, ['a1']);
  }
});

test('a multiattach volume takes more attachments in any attach-family state', (t) => {
  for (const s of ATTACH_FAMILY) t.notThrows(() => checkNewAttachment(vol(s, true), [{ id: 'a1', status: 'attached' }]), s);
  t.throws(() => checkNewAttachment(vol('extending', true), [{ id: 'a1', status: 'attached' }]), { instanceOf: InvalidStateError });
});

test('deleting a volume with attachments names them', (t) => {
  const err = volumeHasAttachments('v1', [{ id: 'a1', status: 'attached' }, { id: 'a2', status: 'error_detaching' }]);
  t.is(err.code, 'INVALID_STATE');
  t.regex(err.message, /has 2 attachments not DETACHED: a1 \(ATTACHED\), a2 \(ERROR_DETACHING\)/);
});
