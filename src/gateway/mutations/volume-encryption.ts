/**
 * An encrypted volume's encryption as an agent command carries it: the cipher of its volume
 * type and its sealed key, as stored (the gateway never opens it). For the commands that make
 * a new image of an existing volume (a migration's import).
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { VolumeEncryptionMessage } from '../../bus/index.js';
import { VolumeType, type Volume } from '../../db/index.js';
import { DEFAULT_CIPHER, DEFAULT_KEY_SIZE } from '../../domain/index.js';

/** Undefined for a volume that is not encrypted. The cipher defaults to Flint's when its type is gone (a type in use cannot be deleted). */
export async function volumeEncryptionOf(em: EntityManager, v: Pick<Volume, 'encryptionKey' | 'volumeType'>): Promise<VolumeEncryptionMessage | undefined> {
  if (!v.encryptionKey) return undefined;
  const type = v.volumeType ? await em.findOne(VolumeType, { name: v.volumeType }, { disableIdentityMap: true }) : null;
  const spec = type?.encryption ?? { provider: 'LUKS' as const, cipher: DEFAULT_CIPHER, keySize: DEFAULT_KEY_SIZE };
  return { provider: spec.provider, cipher: spec.cipher, keySize: spec.keySize, sealedKey: v.encryptionKey };
}
