import test from 'ava';
import { distinctCounts, judge, lostOperations, summary, type Ack, type EndState } from '../../chaos/verdict.js';

const vol = (id: string, over: Partial<EndState['volumes'][number]> = {}) => ({ id, status: 'AVAILABLE', sizeGiB: 1, pool: 'a@pool', changeSeq: 5, ...over });

function state(over: Partial<EndState> = {}): EndState {
  return {
    volumes: [vol('v1')],
    snapshots: [],
    backups: [],
    attachments: [],
    pools: [{ id: 'a@pool', allocatedCapacityGiB: 1 }],
    quota: { volumes: 1, gigabytes: 1, snapshots: 0, backups: 0, reserved: 0 },
    poolImages: new Map([['a@pool', ['v1']]]),
    exports: [],
    canaries: new Map(),
    unsoundImages: [],
    events: new Map([['v1', [1, 5]]]),
    ...over,
  };
}

const ack = (kind: Ack['kind'], volumeId: string, extra: Partial<Ack> = {}): Ack => ({ kind, volumeId, n: 1, ...extra });

test('a clean end state is judged clean', (t) => {
  const v = judge([ack('create', 'v1')], state());
  t.deepEqual(v.details, []);
  t.is(v.counts.lost + v.counts.stuck + v.counts.orphaned + v.counts.drift + v.counts.missed, 0);
});

test('an acknowledged create whose volume is gone is lost, unless its delete was acknowledged too', (t) => {
  const gone = state({ volumes: [], pools: [{ id: 'a@pool', allocatedCapacityGiB: 0 }], quota: { volumes: 0, gigabytes: 0, snapshots: 0, backups: 0, reserved: 0 }, poolImages: new Map([['a@pool', []]]) });
  t.is(judge([ack('create', 'v1')], gone).counts.lost, 1);
  t.is(judge([ack('create', 'v1'), ack('delete', 'v1')], gone).counts.lost, 0);
});

test('an acknowledged delete of a volume still there, or an extend not carried out, is lost', (t) => {
  t.is(judge([ack('delete', 'v1')], state()).counts.lost, 1);
  t.is(judge([ack('extend', 'v1', { sizeGiB: 2 })], state()).counts.lost, 1);
  t.is(judge([ack('extend', 'v1', { sizeGiB: 2 })], state({ volumes: [vol('v1', { status: 'ERROR_EXTENDING' })] })).counts.lost, 0);
});

test('an acknowledged mutation whose operation failed in the open is failed, not lost', (t) => {
  const acks = [ack('extend', 'v1', { sizeGiB: 2, operationId: 'op1' })];
  const first = judge(acks, state());
  t.deepEqual(lostOperations(acks, first), ['op1']);
  const v = judge(acks, state(), new Set(['op1']));
  t.is(v.counts.lost, 0);
  t.is(v.counts.failed, 1);
});

test('transitional statuses are stuck; error statuses are counted apart', (t) => {
  const v = judge([], state({ volumes: [vol('v1', { status: 'CREATING' })], snapshots: [{ id: 's', volumeId: 'v1', status: 'ERROR', sizeGiB: 1 }], quota: { volumes: 1, gigabytes: 2, snapshots: 1, backups: 0, reserved: 0 } }));
  t.is(v.counts.stuck, 1);
  t.is(v.counts.errored, 1);
});

test('an image no volume owns, a leftover temporary file, or a volume without its image is orphaned', (t) => {
  t.is(judge([], state({ poolImages: new Map([['a@pool', ['v1', 'v9']]]) })).counts.orphaned, 1);
  t.is(judge([], state({ poolImages: new Map([['a@pool', ['v1', 'v1 (leftover .volume-v1.qcow2.tmp-ab)']]]) })).counts.orphaned, 1);
  t.is(judge([], state({ poolImages: new Map([['a@pool', []]]) })).counts.orphaned, 1);
});

test('an export of a volume with no live attachment is orphaned', (t) => {
  t.is(judge([], state({ exports: [{ what: 'qemu-nbd pid 7', ids: ['v1'] }] })).counts.orphaned, 1);
  t.is(judge([], state({ exports: [{ what: 'qemu-nbd pid 7', ids: ['v1'] }], attachments: [{ id: 'a1', volumeId: 'v1', status: 'ATTACHED' }] })).counts.orphaned, 0);
});

test('pool and quota usage that differ from a recount are drift', (t) => {
  t.is(judge([], state({ pools: [{ id: 'a@pool', allocatedCapacityGiB: 2 }] })).counts.drift, 1);
  t.is(judge([], state({ quota: { volumes: 1, gigabytes: 3, snapshots: 0, backups: 0, reserved: 0 } })).counts.drift, 1);
  t.is(judge([], state({ quota: { volumes: 1, gigabytes: 1, snapshots: 0, backups: 0, reserved: 1 } })).counts.drift, 1);
});

test('an ERROR volume counts in its pool\'s recount where its image is (a create finished after its deadline), and not where it has none', (t) => {
  const late = state({ volumes: [vol('v1', { status: 'ERROR' })], events: new Map([['v1', [1, 5]]]) });
  t.is(judge([], late).counts.drift, 0, 'the image exists: its capacity is held');
  const none = state({ volumes: [vol('v1', { status: 'ERROR' })], poolImages: new Map([['a@pool', []]]), pools: [{ id: 'a@pool', allocatedCapacityGiB: 0 }] });
  t.is(judge([], none).counts.drift, 0, 'no image: nothing held');
  t.is(judge([], state({ volumes: [vol('v1', { status: 'ERROR' })], poolImages: new Map([['a@pool', []]]) })).counts.drift, 1, 'capacity held for an ERROR volume without its image is drift');
});

test('the subscriber: an older event after a newer is disordered, a repeat is not, and a last event behind the state is missed', (t) => {
  t.is(judge([], state({ events: new Map([['v1', [1, 5, 3]]]) })).counts.disordered, 1);
  t.is(judge([], state({ events: new Map([['v1', [1, 5, 5]]]) })).counts.disordered, 0);
  t.is(judge([], state({ events: new Map([['v1', [1, 4]]]) })).counts.missed, 1);
});

test('a corrupted canary is counted', (t) => {
  t.is(judge([], state({ canaries: new Map([['v1', false]]) })).counts.corrupted, 1);
  t.is(judge([], state({ unsoundImages: ['image volume-v2.qcow2: 1 errors were found on the image'] })).counts.corrupted, 1);
});

test('a problem found in several trials counts once', (t) => {
  const c = distinctCounts([{ details: ['lost: a', 'stuck: b'] }, { details: ['lost: a', 'lost: c'] }]);
  t.is(c.lost, 2);
  t.is(c.stuck, 1);
});

test('the summary line counts every kind, and says which faults this machine could not inject', (t) => {
  const counts = { lost: 0, stuck: 0, orphaned: 0, corrupted: 0, drift: 0, missed: 0, disordered: 0, errored: 2, failed: 1 };
  t.is(summary(10, 10, counts), 'chaos: 10 trials, 10 faults, 0 lost, 0 stuck, 0 orphaned, 0 corrupted, 0 drift, 0 missed, 0 disordered (2 ended in an error status, 1 acknowledged then failed with a message)');
  t.regex(summary(10, 10, counts, ['full-disk: no tmpfs']), /; NOT RUN here: full-disk: no tmpfs$/);
});
