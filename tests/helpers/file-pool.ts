/** The file-driver pool integration tests use: thin, 20× over-subscription, no reserve, no capacity cap. */
import { join } from 'node:path';
import type { FilePoolConfig } from '../../src/config/index.js';
import { FileDriver, type FileDriverOptions } from '../../src/node-agent/index.js';

/** A pool `p1` of qcow2 images in `directory`; `over` changes any setting. */
export function filePoolConfig(directory: string, over: Partial<FilePoolConfig> = {}): FilePoolConfig {
  return {
    name: 'p1',
    driver: 'file',
    directory,
    imageFormat: 'qcow2',
    capabilities: {},
    maxOverSubscriptionRatio: 20,
    reservedPercentage: 0,
    thinProvisioning: true,
    capacityGiB: undefined,
    ...over,
  };
}

/** A file driver over `<dir>/pool`, already set up. */
export async function setUpFileDriver(dir: string, over: Partial<FilePoolConfig> = {}, options: FileDriverOptions = {}): Promise<FileDriver> {
  const driver = new FileDriver(filePoolConfig(join(dir, 'pool'), over), options);
  await driver.setup();
  return driver;
}
