/**
 * The keys of the `file` driver's encrypted volumes: `volume-<id>.key` next to the image,
 * holding the volume's key sealed with the installation's secret key (the value the gateway
 * sealed and sent; src/domain/secret-box.ts, the volume id as associated data). The file
 * marks the volume as encrypted, so the driver finds the key for every operation (snapshot,
 * extend, export, backup) without each command carrying it, also after a restart.
 *
 * The key file is written (crash-safely) before the image takes its name, and removed after
 * the image: an image never exists without its key. It is never read without the secret
 * key: an agent holding another key fails, naming its key file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { FilePoolConfig } from '../../config/index.js';
import { SecretBoxError, type SecretBox } from '../../domain/secret-box.js';
import { DriverError, type VolumeEncryption } from './driver.js';
import type { NewImageKey } from './qemu-img.js';
import { luksQemuOptions } from '../../domain/encryption.js';
import { exists, renameIntoPlace, syncFile } from './file-util.js';

/** Path of a volume's key file. */
export function keyPathOf(pool: FilePoolConfig, volumeId: string): string {
  // Named so that KEY_RE (file-util.ts) matches it: manage never offers a key file as an image.
  return join(pool.directory, `volume-${volumeId}.key`);
}

/** Whether the volume is encrypted (has a key file). */
export function hasKey(pool: FilePoolConfig, volumeId: string): Promise<boolean> {
  return exists(keyPathOf(pool, volumeId));
}

/**
 * Opens a sealed key of `volumeId`.
 * @throws DriverError (not retryable) naming the secret key file when it does not open.
 */
export function openKey(secrets: SecretBox | undefined, volumeId: string, sealed: string): string {
  if (!secrets) throw new DriverError(`volume ${volumeId} is encrypted, and this driver was given no secret key to open its key with`, { retryable: false });
  try {
    return secrets.open(sealed, volumeId);
  } catch (err) {
    if (!(err instanceof SecretBoxError)) throw err;
    throw new DriverError(`cannot open the key of encrypted volume ${volumeId}: ${err.message}`, { cause: err, retryable: false });
  }
}

/**
 * The new image's key from what a command carries: opened (so an agent with the wrong secret
 * key refuses before it makes anything) with its LUKS options.
 */
export function newImageKey(secrets: SecretBox | undefined, volumeId: string, encryption: VolumeEncryption): NewImageKey {
  return { key: openKey(secrets, volumeId, encryption.sealedKey), luks: luksQemuOptions(encryption) };
}

/** Writes the sealed key of `volumeId` crash-safely (an existing one is replaced: the image does not exist yet). */
export async function storeKey(pool: FilePoolConfig, volumeId: string, sealed: string): Promise<void> {
  const final = keyPathOf(pool, volumeId);
  const temp = join(pool.directory, `.volume-${volumeId}.key.tmp-${randomBytes(4).toString('hex')}`);
  await renameIntoPlace(temp, final, pool.directory, async () => {
    await fs.writeFile(temp, sealed, { mode: 0o600, flag: 'wx' });
    await syncFile(temp);
  });
}

/** The key of `volumeId` in clear; undefined when the volume is not encrypted. @throws DriverError when it does not open. */
export async function readKey(pool: FilePoolConfig, secrets: SecretBox | undefined, volumeId: string): Promise<string | undefined> {
  let sealed: string;
  try {
    sealed = (await fs.readFile(keyPathOf(pool, volumeId), 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DriverError(`pool ${pool.name}: cannot read the key file of volume ${volumeId}: ${(err as Error).message}`, { cause: err });
  }
  return openKey(secrets, volumeId, sealed);
}

/** Removes a volume's key file; a missing one is success. */
export async function removeKey(pool: FilePoolConfig, volumeId: string): Promise<void> {
  await fs.rm(keyPathOf(pool, volumeId), { force: true });
}
