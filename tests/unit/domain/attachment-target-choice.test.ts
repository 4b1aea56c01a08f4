/** The target-kind rule of src/domain/attachment-target-choice.ts, table by table. */
import test from 'ava';
import { chooseAttachmentTarget, offerOf, type PoolTargetOffer, type TargetChoiceInput } from '../../../src/domain/attachment-target-choice.js';
import { BadInputError } from '../../../src/domain/errors.js';

const BOTH_ISCSI: PoolTargetOffer = { targets: ['iscsi', 'nbd'], defaultTarget: 'iscsi' };
const BOTH_NBD: PoolTargetOffer = { targets: ['iscsi', 'nbd'], defaultTarget: 'nbd' };
const ONLY_NBD: PoolTargetOffer = { targets: ['nbd'], defaultTarget: 'nbd' };
const ONLY_ISCSI: PoolTargetOffer = { targets: ['iscsi'], defaultTarget: 'iscsi' };
const IQN = { initiator: 'iqn.2026-11.test:c1' };
const NO_IQN = { initiator: null };

const choose = (over: Partial<TargetChoiceInput>) => chooseAttachmentTarget({ pool: 'gold', host: 'store-1', offer: BOTH_ISCSI, connector: IQN, ...over });

const CHOSEN: Array<[string, Partial<TargetChoiceInput>, string, string]> = [
  ['the pool default (iscsi) without a request', {}, 'iscsi', 'pool default'],
  ['the pool default (nbd) without a request, even with an initiator', { offer: BOTH_NBD }, 'nbd', 'pool default'],
  ['the pool default for a reservation without a connector', { offer: BOTH_NBD, connector: null }, 'nbd', 'pool default'],
  ['iscsi for a reservation without a connector on an iscsi-default pool', { connector: null }, 'iscsi', 'pool default'],
  ['the requested kind over the default', { offer: BOTH_NBD, requested: 'iscsi' }, 'iscsi', 'requested'],
  ['the requested nbd over an iscsi default', { requested: 'nbd' }, 'nbd', 'requested'],
  ['nbd when the connector has no initiator and the pool offers nbd', { connector: NO_IQN }, 'nbd', 'no initiator: nbd'],
  ['nbd on an nbd-only pool', { offer: ONLY_NBD, connector: NO_IQN }, 'nbd', 'pool default'],
  ['both kinds, iscsi default, for a pool that does not advertise (an older agent)', { offer: undefined }, 'iscsi', 'pool default'],
  ['nbd without initiator for a pool that does not advertise', { offer: undefined, connector: NO_IQN }, 'nbd', 'no initiator: nbd'],
];
for (const [name, over, kind, reason] of CHOSEN) {
  test(`chooses ${name}`, (t) => t.deepEqual(choose(over), { kind: kind as 'iscsi' | 'nbd', reason: reason as never }));
}

test('a requested kind the pool does not offer is BAD_USER_INPUT naming the pool and what it offers', (t) => {
  const err = t.throws(() => choose({ offer: ONLY_NBD, requested: 'iscsi' }), { instanceOf: BadInputError });
  t.is(err.code, 'BAD_USER_INPUT');
  t.is(
    err.message,
    'Pool gold on host store-1 does not offer ISCSI exports; it offers NBD. Ask for targetKind NBD, or leave targetKind out to get the pool\'s default (NBD).',
  );
  const other = t.throws(() => choose({ offer: ONLY_ISCSI, requested: 'nbd', connector: NO_IQN }), { instanceOf: BadInputError });
  t.regex(other.message, /does not offer NBD exports; it offers ISCSI\./);
});

test('iscsi without an initiator is BAD_USER_INPUT: requested (NBD suggested) or the only kind', (t) => {
  const asked = t.throws(() => choose({ requested: 'iscsi', connector: NO_IQN }), { instanceOf: BadInputError });
  t.regex(asked.message, /^connector\.initiator is required for an iSCSI attachment: .*; or ask for targetKind NBD, which needs none$/);
  const only = t.throws(() => choose({ offer: ONLY_ISCSI, connector: NO_IQN }), { instanceOf: BadInputError });
  t.regex(only.message, /^connector\.initiator is required for an iSCSI attachment: .*; pool gold on host store-1 offers only ISCSI$/);
  const onlyAsked = t.throws(() => choose({ offer: ONLY_ISCSI, requested: 'iscsi', connector: NO_IQN }), { instanceOf: BadInputError });
  t.notRegex(onlyAsked.message, /NBD/);
});

test('offerOf fills what an older agent leaves out and ignores a default the pool does not offer', (t) => {
  t.deepEqual(offerOf(undefined), { targets: ['iscsi', 'nbd'], defaultTarget: 'iscsi' });
  t.deepEqual(offerOf({ targets: ['nbd'] }), { targets: ['nbd'], defaultTarget: 'nbd' });
  t.deepEqual(offerOf({ targets: ['nbd'], defaultTarget: 'iscsi' }), { targets: ['nbd'], defaultTarget: 'nbd' });
  t.deepEqual(offerOf({ targets: [], defaultTarget: 'nbd' }), { targets: ['iscsi', 'nbd'], defaultTarget: 'nbd' });
});
