/**
 * `flint dev --ceph` (or FLINT_DEV_CEPH=1): a single-node Ceph cluster under
 * `<dataDir>/ceph` (ceph-cluster.ts), an rbd pool `volumes` and a cephx user `flint` with
 * rbd caps on it, an agent pool `ceph` (driver rbd) next to the file pool, and a volume type
 * `ceph` whose extra specs (`driver: rbd`) place its volumes there.
 *
 * The daemons run in their own session (a Ctrl-C on the terminal does not reach them): dev
 * mode stops them itself, after the agent, so tgtd and the exports of rbd volumes end first,
 * then the OSD, then the mon.
 */
import { join } from 'node:path';
import { DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO, poolTargetsOf, type PoolConfig, type RbdPoolConfig } from '../../config/index.js';
import { startCephCluster, type CephCluster } from './ceph-cluster.js';

/** The agent's pool of RBD volumes in dev mode. */
export const DEV_CEPH_POOL = 'ceph';
/** The Ceph pool that holds them. */
export const DEV_RBD_POOL = 'volumes';
/** The cephx user the agent uses (`client.flint`). */
export const DEV_CEPH_USER = 'flint';
/** The volume type that places volumes in the `ceph` pool. */
export const DEV_CEPH_VOLUME_TYPE = 'ceph';
/** Its extra specs: the scheduler's built-in `driver` capability. */
export const DEV_CEPH_EXTRA_SPECS: Readonly<Record<string, string>> = { driver: 'rbd' };

export interface DevCeph {
  cluster: CephCluster;
  /** The agent pool to add to the configured ones. */
  pool: RbdPoolConfig;
  keyring: string;
}

/** Boots (or boots again) the dev cluster under `<dataDir>/ceph` and makes its pool and user; idempotent. */
export async function startDevCeph(dataDir: string): Promise<DevCeph> {
  const cluster = await startCephCluster({ dir: join(dataDir, 'ceph'), detached: true });
  try {
    await cluster.createRbdPool(DEV_RBD_POOL);
    const keyring = await cluster.createClient(DEV_CEPH_USER, [DEV_RBD_POOL]);
    const pool: RbdPoolConfig = {
      name: DEV_CEPH_POOL,
      driver: 'rbd',
      cluster: { conf: cluster.conf, user: DEV_CEPH_USER, keyring },
      rbdPool: DEV_RBD_POOL,
      imageFormat: 'raw',
      capabilities: {},
      maxOverSubscriptionRatio: DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
      reservedPercentage: 0,
      thinProvisioning: true,
      // Without a ceph-mgr the driver reads the capacity from the OSDs (rbd-driver.ts osdCapacity).
      capacityGiB: undefined,
      ...poolTargetsOf({}),
    };
    return { cluster, pool, keyring };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/** The pools of dev mode with Ceph: the configured ones and `ceph`; refuses a configured pool of that name. */
export function withDevCephPool(pools: readonly PoolConfig[], ceph: PoolConfig): PoolConfig[] {
  if (pools.some((p) => p.name === ceph.name)) {
    throw new Error(`FLINT_POOLS already has a pool named "${ceph.name}"; dev mode's Ceph pool takes that name: rename yours`);
  }
  return [...pools, ceph];
}
