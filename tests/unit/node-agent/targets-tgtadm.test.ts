/** Pure parts of the iSCSI target: tgtadm output parsers, IQNs, request checks, qemu-storage-daemon arguments. */
import test from 'ava';
import { DriverError } from '../../../src/node-agent/drivers/index.js';
import { qsdArgs } from '../../../src/node-agent/targets/fuse-export.js';
import { hostToken, isIqn, targetIqn, validateExportRequest } from '../../../src/node-agent/targets/iscsi-names.js';
import type { ExportRequest } from '../../../src/node-agent/targets/index.js';
import { describeArgs, parseAccounts, parseConnections, parsePortals, parseTargets } from '../../../src/node-agent/targets/tgtadm.js';
import { portalText } from '../../../src/node-agent/targets/tgtd-process.js';

// Captured from tgtd 1.0.85 (`tgtadm --op show --mode target`), one target with a session.
const SHOW_TARGETS = `Target 3: iqn.2026-11.io.flint:node-1:att-1
    System information:
        Driver: iscsi
        State: offline
    I_T nexus information:
        I_T nexus: 1
            Initiator: iqn.2026-01.test:ini1 alias: none
            Connection: 0
                IP Address: 127.0.0.1
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00030000
            SCSI SN: beaf30
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags: 
        LUN: 1
            Type: disk
            SCSI ID: IET     00030001
            SCSI SN: beaf31
            Size: 101 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: Yes
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: /tmp/tgtx/vol.raw
            Backing store flags: 
    Account information:
        bob
    ACL information:
        iqn.2026-01.test:ini1
Target 4: iqn.2026-11.io.flint:node-1:att-2
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
    Account information:
    ACL information:
        ALL
`;

test('parseTargets reads tid, IQN, state, LUNs with backing file and read-only flag, accounts and ACLs', (t) => {
  t.deepEqual(parseTargets(SHOW_TARGETS), [
    { tid: 3, iqn: 'iqn.2026-11.io.flint:node-1:att-1', state: 'offline', luns: [{ lun: 1, backingPath: '/tmp/tgtx/vol.raw', readonly: true }], accounts: ['bob'], acls: ['iqn.2026-01.test:ini1'] },
    { tid: 4, iqn: 'iqn.2026-11.io.flint:node-1:att-2', state: 'ready', luns: [], accounts: [], acls: ['ALL'] },
  ]);
  t.deepEqual(parseTargets(''), []);
});

test('parseConnections, parseAccounts and parsePortals read their show outputs', (t) => {
  const conns = 'Session: 9\n    Connection: 0\n        Initiator: iqn.2026-01.test:ini1\n        IP Address: 127.0.0.1\nSession: 10\n    Connection: 1\n        Initiator: iqn.x:y\n';
  t.deepEqual(parseConnections(conns), [
    { sid: 9, cid: 0, initiator: 'iqn.2026-01.test:ini1' },
    { sid: 10, cid: 1, initiator: 'iqn.x:y' },
  ]);
  t.deepEqual(parseConnections(''), []);
  t.deepEqual(parseAccounts('Account list:\n    lonely\n    bob\n'), ['lonely', 'bob']);
  t.deepEqual(parseAccounts('Account list:\n'), []);
  // A tgtd that could not bind its portal falls back to these two.
  t.deepEqual(parsePortals('Portal: [::]:3260,1\nPortal: 0.0.0.0:3260,1\n'), ['[::]:3260', '0.0.0.0:3260']);
  t.deepEqual(parsePortals('Portal: 127.0.0.1:13266,1\n'), ['127.0.0.1:13266']);
});

test('describeArgs names the operation without the CHAP password', (t) => {
  const summary = describeArgs(['--op', 'new', '--mode', 'account', '--user', 'u', '--password', 'TopSecret123']);
  t.is(summary, '--op new --mode account');
  t.is(describeArgs(['--op', 'delete', '--mode', 'target', '--tid', '4']), '--op delete --mode target --tid 4');
});

test('target IQNs carry a cleaned host name and the attachment id', (t) => {
  t.is(targetIqn('Node_1.Example', 'ATT-1'), 'iqn.2026-11.io.flint:node-1.example:att-1');
  t.is(hostToken('---'), 'host');
  t.true(isIqn(targetIqn('h', 'a-1')));
  t.true(isIqn('iqn.2008-11.org.linux-kvm'));
  t.true(isIqn('eui.0123456789abcdef'));
  t.false(isIqn('iqn.2026.io.flint:x'));
  t.false(isIqn('iqn.2026-11.io.flint:has space'));
  t.is(portalText('127.0.0.1', 3260), '127.0.0.1:3260');
  t.is(portalText('::1', 3260), '[::1]:3260');
});

const good: ExportRequest = {
  attachmentId: 'a1b2c3d4-0000-4000-8000-000000000001',
  volumeId: 'v1',
  image: { path: '/x/v1.raw', format: 'raw', sizeBytes: 1 },
  mode: 'rw',
  initiator: 'iqn.2026-11.test:ini',
  chap: { username: 'user-1', password: 'abcdefghijkl' },
};

test('validateExportRequest accepts a good request and names the bad field of others', (t) => {
  t.notThrows(() => validateExportRequest(good));
  t.notThrows(() => validateExportRequest({ ...good, initiator: undefined, chap: undefined }));
  const cases: Array<[Partial<ExportRequest>, RegExp]> = [
    [{ attachmentId: '../etc' }, /attachment id/],
    [{ attachmentId: 'a_b' }, /attachment id/],
    [{ initiator: 'bob' }, /not an iSCSI qualified name/],
    [{ chap: { username: 'has space', password: 'abcdefghijkl' } }, /CHAP user name/],
    [{ chap: { username: 'u', password: 'short' } }, /CHAP secret/],
    [{ chap: { username: 'u', password: 'with a space here' } }, /CHAP secret/],
  ];
  for (const [patch, message] of cases) {
    const err = t.throws(() => validateExportRequest({ ...good, ...patch }), { instanceOf: DriverError, message });
    t.false(err!.retryable);
    if (patch.chap) t.false(err!.message.includes(patch.chap.password), 'the secret is not in the message');
  }
});

test('qsdArgs opens the image in JSON syntax and exports it writable only for rw', (t) => {
  const args = qsdArgs({ path: '/pool/a,b.qcow2', format: 'qcow2', sizeBytes: 1 }, '/state/x.img', false, '/state/x.img.pid');
  t.deepEqual(JSON.parse(args[1]!), { driver: 'file', 'node-name': 'file0', filename: '/pool/a,b.qcow2', 'read-only': true });
  t.deepEqual(JSON.parse(args[3]!), { driver: 'qcow2', 'node-name': 'disk0', file: 'file0', 'read-only': true });
  t.is(args[5], 'type=fuse,id=export0,node-name=disk0,mountpoint=/state/x.img,writable=off');
  t.true(qsdArgs({ path: '/p.qcow2', format: 'qcow2', sizeBytes: 1 }, '/m', true, '/m.pid')[5]!.endsWith('writable=on'));
  t.deepEqual(args.slice(-4), ['--chardev', 'socket,id=qmp0,path=/state/x.img.qmp,server=on,wait=off', '--monitor', 'chardev=qmp0']);
});
