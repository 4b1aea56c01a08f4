/** `parsePools` of src/config/pool-config.ts for rbd pools: what they need, what they refuse, and what file pools refuse of theirs. */
import test from 'ava';
import { parsePools, poolLocation, type PoolConfig } from '../../../src/config/pool-config.js';

const CEPH = { conf: '/etc/ceph/ceph.conf', user: 'flint', keyring: '/etc/ceph/ceph.client.flint.keyring' };

function parse(pool: unknown): { pools: PoolConfig[]; problems: string[] } {
  const problems: string[] = [];
  const pools = parsePools([pool], '/data', problems);
  return { pools, problems };
}

test('an rbd pool names its cluster and Ceph pool, and is raw and thin', (t) => {
  const { pools, problems } = parse({ name: 'ceph', driver: 'rbd', cluster: CEPH, rbdPool: 'volumes' });
  t.deepEqual(problems, []);
  t.like(pools[0], { name: 'ceph', driver: 'rbd', cluster: CEPH, rbdPool: 'volumes', imageFormat: 'raw', thinProvisioning: true });
  t.false('directory' in pools[0]!, 'no directory');
  t.is(poolLocation(pools[0]!), 'rbd:volumes');
});

test('an rbd pool\'s keyring is optional: the conf finds it', (t) => {
  const { pools, problems } = parse({ name: 'ceph', driver: 'rbd', cluster: { conf: CEPH.conf, user: 'flint' }, rbdPool: 'volumes', imageFormat: 'raw' });
  t.deepEqual(problems, []);
  const pool = pools[0]!;
  t.is(pool.driver, 'rbd');
  if (pool.driver === 'rbd') t.deepEqual(pool.cluster, { conf: CEPH.conf, user: 'flint' });
});

test('an rbd pool without cluster or rbdPool is refused, naming what to add', (t) => {
  const { pools, problems } = parse({ name: 'ceph', driver: 'rbd' });
  t.deepEqual(pools, []);
  t.is(problems.length, 2);
  t.regex(problems[0]!, /^FLINT_POOLS\[0\]\.cluster: an rbd pool needs its Ceph cluster/);
  t.regex(problems[1]!, /^FLINT_POOLS\[0\]\.rbdPool: an rbd pool needs the name of the Ceph pool/);
});

test('an rbd pool refuses a directory, qcow2 and thick provisioning', (t) => {
  const { problems } = parse({ name: 'ceph', driver: 'rbd', cluster: CEPH, rbdPool: 'volumes', directory: '/srv', imageFormat: 'qcow2', thinProvisioning: false });
  t.is(problems.length, 3);
  t.regex(problems.join('\n'), /\.directory: an rbd pool keeps its volumes in Ceph/);
  t.regex(problems.join('\n'), /\.imageFormat: rbd images are raw block devices/);
  t.regex(problems.join('\n'), /\.thinProvisioning: rbd images are always thin/);
});

test('a malformed cluster or Ceph pool name is refused field by field', (t) => {
  const { problems } = parse({ name: 'ceph', driver: 'rbd', cluster: { conf: '', user: 'client flint', extra: 1 }, rbdPool: 'a/b' });
  const text = problems.join('\n');
  t.regex(text, /cluster\.conf/);
  t.regex(text, /cluster\.user/);
  t.regex(text, /cluster.*extra|Unrecognized key/);
  t.regex(text, /rbdPool/);
});

test('a file pool refuses cluster and rbdPool, and keeps its directory and qcow2 default', (t) => {
  const refused = parse({ name: 'gold', cluster: CEPH, rbdPool: 'volumes' });
  t.is(refused.problems.length, 2);
  t.regex(refused.problems.join('\n'), /\.cluster: only rbd pools name a Ceph cluster/);
  t.regex(refused.problems.join('\n'), /\.rbdPool: only rbd pools name a Ceph pool/);
  const { pools, problems } = parse({ name: 'gold' });
  t.deepEqual(problems, []);
  t.like(pools[0], { driver: 'file', directory: '/data/pools/gold', imageFormat: 'qcow2' });
});
