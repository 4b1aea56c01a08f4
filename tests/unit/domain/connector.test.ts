/** Connector checks of src/domain/connector.ts: every field, with messages that say what to fix. */
import test from 'ava';
import { BadInputError } from '../../../src/domain/errors.js';
import { checkConnector, checkInstanceId, iscsiNameProblem } from '../../../src/domain/connector.js';
import { Problems } from '../../../src/domain/volume-input.js';

const GOOD_NAMES = [
  'iqn.2004-10.com.example:host1',
  'iqn.1993-08.org.debian:01:2ba8f7a0c1f',
  'iqn.2008-11.org.linux-kvm',
  'IQN.2004-10.COM.EXAMPLE:Host1',
  'eui.02004567A425678D',
  'naa.52004567ba64678d',
  'naa.6001405ab3d8c5b4a2f14b8a2e3f1c2d',
];
const BAD_NAMES: Array<[string, RegExp]> = [
  ['iqn.2004-13.com.example', /month .* must be 01 to 12/],
  ['iqn.04-10.com.example', /not a valid IQN/],
  ['iqn.2004-10', /not a valid IQN/],
  ['iqn.2004-10.-bad.com', /not a valid IQN/],
  ['iqn.2004-10.com.example:with space', /not a valid IQN/],
  ['eui.1234', /16 hex digits/],
  ['naa.12345', /16 or 32 hex digits/],
  ['host1', /must start with iqn\., eui\. or naa\./],
  [`iqn.2004-10.com.example:${'x'.repeat(230)}`, /at most 223 bytes/],
];

for (const n of GOOD_NAMES) test(`${n} is an iSCSI name`, (t) => t.is(iscsiNameProblem(n), null));
for (const [n, why] of BAD_NAMES) test(`${n.slice(0, 40)} is refused: ${why.source}`, (t) => t.regex(iscsiNameProblem(n) ?? '', why));

test('a full connector is normalised (initiator in lower case) and kept', (t) => {
  const c = checkConnector(
    { initiator: 'IQN.2004-10.com.Example:h1', host: 'compute-1.example.com', ip: '2001:db8::10', multipath: true, platform: 'x86_64', osType: 'linux2' },
    { needsInitiator: true },
  );
  t.deepEqual(c, { initiator: 'iqn.2004-10.com.example:h1', host: 'compute-1.example.com', ip: '2001:db8::10', multipath: true, platform: 'x86_64', osType: 'linux2' });
});

test('optional fields default: no ip, multipath false, no platform or osType', (t) => {
  const c = checkConnector({ host: 'h1' }, { needsInitiator: false });
  t.deepEqual(c, { initiator: null, host: 'h1', ip: null, multipath: false, platform: null, osType: null });
});

test('an iSCSI attachment needs an initiator', (t) => {
  const err = t.throws(() => checkConnector({ host: 'h1' }, { needsInitiator: true }), { instanceOf: BadInputError });
  t.regex(err!.message, /connector\.initiator is required for an iSCSI attachment/);
});

test('every problem is reported at once, each saying what to fix', (t) => {
  const err = t.throws(
    () => checkConnector({ initiator: 'nope', host: '-bad-', ip: '300.1.1.1', platform: 'x 86', osType: '' + 'l'.repeat(65) }, { needsInitiator: true }),
    { instanceOf: BadInputError },
  );
  t.is(err!.problems.length, 5);
  t.regex(err!.message, /must start with iqn\./);
  t.regex(err!.message, /connector\.host "-bad-" must be a host name/);
  t.regex(err!.message, /connector\.ip "300\.1\.1\.1" is not an IPv4 or IPv6 address/);
  t.regex(err!.message, /connector\.platform "x 86" must be 1 to 64/);
  t.regex(err!.message, /connector\.osType/);
});

test('a missing host is refused; IPv4 is accepted', (t) => {
  t.throws(() => checkConnector({ ip: '192.0.2.1' }, { needsInitiator: false }), { message: /connector\.host is required/ });
  t.is(checkConnector({ host: 'h', ip: '192.0.2.1' }, { needsInitiator: false }).ip, '192.0.2.1');
});

test('instanceId is required and printable', (t) => {
  for (const [v, ok] of [['vm-1', true], ['', false], [null, false], ['has space', false], ['x'.repeat(256), false]] as const) {
    const p = new Problems();
    checkInstanceId(p, v);
    t.is(p.any, !ok, String(v));
  }
});
