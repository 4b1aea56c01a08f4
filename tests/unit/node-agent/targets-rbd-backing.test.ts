/** What tgt serves as the LUN of an export (src/node-agent/targets/tgt-backing.ts) and qemu-nbd's view of an RBD snapshot. */
import test from 'ava';
import { DriverError, type ImageSource } from '../../../src/node-agent/drivers/index.js';
import { qemuNbdArgs } from '../../../src/node-agent/qemu-nbd.js';
import { confWithKeyring, lunBacking, tgtRbdStore, thinProvisioned } from '../../../src/node-agent/targets/tgt-backing.js';

const rbdImage = (snapshot?: string): ImageSource => ({
  path: `rbd:vols/volume-1${snapshot ? `@${snapshot}` : ''}:conf=/etc/ceph/c.conf:id=flint`,
  format: 'raw',
  sizeBytes: 1024 ** 3,
  rbd: { pool: 'vols', image: 'volume-1', ...(snapshot ? { snapshot } : {}), conf: '/etc/ceph/c.conf', user: 'flint' },
});

test('a file image is its own backing file, a FUSE view wins over anything else', (t) => {
  t.deepEqual(lunBacking({ path: '/pool/volume-1.raw' }), { bstype: 'rdwr', store: '/pool/volume-1.raw' });
  t.deepEqual(lunBacking(rbdImage(), '/state/fuse/x.img'), { bstype: 'rdwr', store: '/state/fuse/x.img' });
});

test('an RBD image or snapshot is tgt\'s rbd backing store with the conf and user in bsopts', (t) => {
  t.deepEqual(lunBacking(rbdImage()), { bstype: 'rbd', store: 'vols/volume-1', bsopts: 'conf=/etc/ceph/c.conf;id=flint' });
  t.deepEqual(lunBacking(rbdImage('snap-1')), { bstype: 'rbd', store: 'vols/volume-1@snap-1', bsopts: 'conf=/etc/ceph/c.conf;id=flint' });
  t.is(lunBacking(rbdImage(), undefined, '/state/ceph/k.conf').bsopts, 'conf=/state/ceph/k.conf;id=flint');
  t.is(tgtRbdStore({ pool: 'p', image: 'i' }), 'p/i');
});

test('a conf path or user that would break tgt\'s bsopts is refused, not retried', (t) => {
  const bad = rbdImage();
  bad.rbd = { ...bad.rbd!, conf: '/etc/ceph/a;b.conf' };
  const err = t.throws(() => lunBacking(bad), { instanceOf: DriverError });
  t.regex(err.message, /cannot carry/);
  t.false(err.retryable);
});

test('the keyring conf is the pool\'s conf plus a client section naming the keyring', (t) => {
  const text = confWithKeyring('[global]\nmon_host = 127.0.0.1\n\n\n', 'flint', '/k/flint.keyring');
  t.true(text.startsWith('[global]\nmon_host = 127.0.0.1\n\n# Added by Flint'));
  t.regex(text, /\[client\.flint\]\n\tkeyring = \/k\/flint\.keyring\n$/);
});

test('qemu-nbd serves an RBD snapshot read-only and an RBD image writable, on the rbd: file name', (t) => {
  const base = { exportName: 'e', listen: { host: '127.0.0.1', port: 10999 }, pidFile: '/p' };
  const snap = qemuNbdArgs({ ...base, image: rbdImage('s1') });
  t.true(snap.includes('--read-only'));
  t.is(snap.at(-1), 'rbd:vols/volume-1@s1:conf=/etc/ceph/c.conf:id=flint');
  const live = qemuNbdArgs({ ...base, image: rbdImage() });
  t.false(live.includes('--read-only'));
  t.true(live.includes('--format') && live.includes('raw'));
});

test('only writable LUNs of unencrypted raw files are thin-provisioned (UNMAP): not read-only, qcow2, RBD or encrypted ones', (t) => {
  const file: ImageSource = { path: '/pool/volume-1.raw', format: 'raw', sizeBytes: 1024 ** 3 };
  t.true(thinProvisioned(file, 'rw'));
  t.false(thinProvisioned(file, 'ro'));
  t.false(thinProvisioned({ ...file, format: 'qcow2' }, 'rw'), 'the FUSE view of qcow2 may drop partial-cluster holes');
  t.false(thinProvisioned({ ...file, key: 'passphrase' }, 'rw'));
  t.false(thinProvisioned(rbdImage(), 'rw'));
});
