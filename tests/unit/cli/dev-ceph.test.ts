/** Dev mode's Ceph pool and volume type (src/cli/dev/ceph-dev.ts): what the scheduler gets, pure parts only. */
import test from 'ava';
import { DEV_CEPH_POOL, withDevCephPool } from '../../../src/cli/dev/ceph-dev.js';
import { loadConfig, type RbdPoolConfig } from '../../../src/config/index.js';

const ceph: RbdPoolConfig = {
  name: DEV_CEPH_POOL,
  driver: 'rbd',
  cluster: { conf: '/d/ceph/ceph.conf', user: 'flint', keyring: '/d/ceph/ceph.client.flint.keyring' },
  rbdPool: 'volumes',
  imageFormat: 'raw',
  capabilities: {},
  maxOverSubscriptionRatio: 20,
  reservedPercentage: 0,
  thinProvisioning: true,
  capacityGiB: 20,
  targets: ['iscsi', 'nbd'],
  defaultTarget: 'iscsi',
};

test('the ceph pool comes next to the configured file pool', (t) => {
  const config = loadConfig({ FLINT_DATA_DIR: '/d' });
  const pools = withDevCephPool(config.pools, ceph);
  t.deepEqual(pools.map((p) => [p.name, p.driver]), [['default', 'file'], ['ceph', 'rbd']]);
});

test('a configured pool named ceph is refused with what to do', (t) => {
  const config = loadConfig({ FLINT_DATA_DIR: '/d', FLINT_POOLS: JSON.stringify([{ name: 'ceph' }]) });
  t.throws(() => withDevCephPool(config.pools, ceph), { message: /already has a pool named "ceph".*rename yours/ });
});
