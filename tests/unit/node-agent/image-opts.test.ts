/** How qemu tools are told to open an image (src/node-agent/drivers/image-opts.ts, and rbd-cli.ts for RBD file names): pure argument building. */
import test from 'ava';
import { rbdFilename } from '../../../src/node-agent/drivers/rbd-cli.js';
import { encryptedCreateOptions, formatBlockdev, imageOptsString, jsonImageName, needsQemuView, qemuFormat } from '../../../src/node-agent/drivers/image-opts.js';
import { qsdArgs } from '../../../src/node-agent/targets/fuse-export.js';
import { qemuNbdArgs } from '../../../src/node-agent/qemu-nbd.js';

test('an encrypted raw volume is a LUKS container; qcow2 keeps its format and decrypts inside', (t) => {
  t.is(qemuFormat('raw', true), 'luks');
  t.is(qemuFormat('qcow2', true), 'qcow2');
  t.is(imageOptsString('/p/a,b.raw', 'raw', true), 'driver=luks,file.driver=file,file.filename=/p/a,,b.raw,key-secret=flint-key');
  t.is(imageOptsString('/p/v.qcow2', 'qcow2', true), 'driver=qcow2,file.driver=file,file.filename=/p/v.qcow2,encrypt.key-secret=flint-key');
  t.deepEqual(formatBlockdev('qcow2', true, { file: 'f' }), { driver: 'qcow2', file: 'f', encrypt: { format: 'luks', 'key-secret': 'flint-key' } });
  t.deepEqual(JSON.parse(jsonImageName('/p/v.raw', 'raw').slice(5)), { driver: 'luks', file: { driver: 'file', filename: '/p/v.raw' }, 'key-secret': 'flint-key' });
});

test('creation options: qcow2 prefixes the LUKS options with encrypt.', (t) => {
  t.is(encryptedCreateOptions('qcow2', { 'cipher-alg': 'aes-128' }), 'encrypt.format=luks,encrypt.key-secret=flint-key,encrypt.cipher-alg=aes-128');
  t.is(encryptedCreateOptions('raw', { 'cipher-alg': 'aes-128' }, 'k2'), 'key-secret=k2,cipher-alg=aes-128');
});

test('tgt cannot read an encrypted raw image: it goes through a qemu view, as qcow2 does', (t) => {
  t.true(needsQemuView({ format: 'raw', key: 'k' }));
  t.true(needsQemuView({ format: 'qcow2' }));
  t.false(needsQemuView({ format: 'raw' }));
});

test('the key reaches qemu-storage-daemon and qemu-nbd as a secret object reading a file, never on the command line', (t) => {
  const image = { path: '/p/v.raw', format: 'raw' as const, sizeBytes: 1, key: 'THE-PASSPHRASE' };
  const qsd = qsdArgs(image, '/m/x.img', true, '/m/x.pid', '/tmp/k/secret');
  t.deepEqual(qsd.slice(0, 2), ['--object', 'secret,id=flint-key,file=/tmp/k/secret']);
  t.regex(qsd.join(' '), /"driver":"luks".*"key-secret":"flint-key"/);
  const nbd = qemuNbdArgs({ image, exportName: 'e', listen: { socket: '/s' }, pidFile: '/p', secretFile: '/tmp/k/secret' });
  t.true(nbd.includes('--image-opts'));
  t.is(nbd.at(-1), 'driver=luks,file.driver=file,file.filename=/p/v.raw,key-secret=flint-key');
  for (const args of [qsd, nbd]) t.false(args.join(' ').includes('THE-PASSPHRASE'));
});

test('protocolNode: a file, or an RBD image (snapshot and keyring included) as qemu\'s rbd driver takes it', async (t) => {
  const { protocolNode } = await import('../../../src/node-agent/drivers/image-opts.js');
  t.deepEqual(protocolNode({ path: '/p/v.raw' }, { 'node-name': 'file0' }), { driver: 'file', filename: '/p/v.raw', 'node-name': 'file0' });
  const rbd = { pool: 'volumes', image: 'volume-v1', snapshot: 'snapshot-s1', conf: '/etc/ceph/ceph.conf', user: 'flint' };
  t.deepEqual(protocolNode({ path: 'rbd:volumes/volume-v1@snapshot-s1:conf=/etc/ceph/ceph.conf:id=flint', rbd }, { 'read-only': true }), {
    driver: 'rbd',
    pool: 'volumes',
    image: 'volume-v1',
    snapshot: 'snapshot-s1',
    conf: '/etc/ceph/ceph.conf',
    user: 'flint',
    'read-only': true,
  });
  const { snapshot: _s, ...head } = rbd;
  const withKeyring = protocolNode({ path: 'rbd:…', rbd: { ...head, keyring: '/k' } });
  t.is(withKeyring['=keyvalue-pairs'], '["keyring","/k"]', 'the keyring as librados option, which qemu\'s rbd node has no field for');
  t.false('snapshot' in withKeyring);
  t.is(imageOptsString('rbd:volumes/volume-v1:conf=/c:id=flint', 'raw', true), 'driver=luks,file.driver=rbd,file.filename=rbd:volumes/volume-v1:conf=/c:id=flint,key-secret=flint-key');
  t.deepEqual(JSON.parse(jsonImageName({ path: 'rbd:x', rbd }, 'raw').slice(5)).file, { driver: 'rbd', pool: 'volumes', image: 'volume-v1', snapshot: 'snapshot-s1', conf: '/etc/ceph/ceph.conf', user: 'flint' });
});

test('qemu’s rbd filename names pool, image, snapshot and credentials, escaping colons', (t) => {
  t.is(rbdFilename({ pool: 'volumes', image: 'volume-1', conf: '/d/ceph.conf', user: 'flint' }), 'rbd:volumes/volume-1:conf=/d/ceph.conf:id=flint');
  t.is(
    rbdFilename({ pool: 'volumes', image: 'volume-1', snapshot: 'backup-b1', conf: '/d:x/ceph.conf', user: 'flint', keyring: '/k/kr' }),
    'rbd:volumes/volume-1@backup-b1:conf=/d\\:x/ceph.conf:id=flint:keyring=/k/kr',
  );
});
