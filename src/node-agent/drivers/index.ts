/**
 * The driver registry: the one place that maps a pool's `driver` name to its code.
 * Add a driver here and it is picked up by the agent and by the driver compliance test.
 */
import type { PoolConfig } from '../../config/index.js';
import type { SecretBox } from '../../domain/secret-box.js';
import { DriverError, type VolumeDriver } from './driver.js';
import { FileDriver } from './file-driver.js';
import { RbdDriver } from './rbd-driver.js';

export * from './driver.js';
export { FileDriver, type FileDriverOptions } from './file-driver.js';
export { RbdDriver } from './rbd-driver.js';
export * as qemuImg from './qemu-img.js';
export { formatBlockdev, imageOptsString, needsQemuView, protocolNode, secretObjectArgs, withSecretFiles } from './image-opts.js';

/** What every driver may be given besides its pool. */
export interface DriverContext {
  /** Opens the keys of encrypted volumes (FLINT_SECRET_KEY_FILE). */
  secrets?: SecretBox;
}

const FACTORIES: { readonly [D in PoolConfig['driver']]: (pool: Extract<PoolConfig, { driver: D }>, ctx: DriverContext) => VolumeDriver } = {
  file: (pool, ctx) => new FileDriver(pool, ctx.secrets ? { secrets: ctx.secrets } : {}),
  rbd: (pool) => new RbdDriver(pool),
};

/** Names of the registered drivers. */
export const DRIVERS = Object.keys(FACTORIES) as readonly PoolConfig['driver'][];

/**
 * Builds the driver of a pool (not yet set up: call `setup()`).
 * @throws DriverError (not retryable) for a driver name this build does not have.
 */
export function createDriver(pool: PoolConfig, ctx: DriverContext = {}): VolumeDriver {
  const factory = (FACTORIES as Record<string, ((pool: PoolConfig, ctx: DriverContext) => VolumeDriver) | undefined>)[pool.driver];
  if (!factory) {
    throw new DriverError(`pool ${pool.name}: unknown driver "${pool.driver}"; this build has: ${DRIVERS.join(', ')}`, { retryable: false });
  }
  return factory(pool, ctx);
}
export * as qcow2Bitmaps from './qcow2-bitmaps.js';
