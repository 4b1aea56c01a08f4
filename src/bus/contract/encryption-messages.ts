/** The encryption of a volume as the commands that make its image carry it (create, copy, migration import). Imports nothing of the roles. */
import { z } from 'zod';
import { ENCRYPTION_PROVIDERS } from '../../domain/encryption.js';

/**
 * How a new volume is encrypted (its type's encryption, src/domain/encryption.ts): the cipher
 * and the volume's own key, sealed (src/domain/secret-box.ts, the volume id as associated
 * data). Only an agent with the installation's secret key opens it. Never logged.
 */
export const volumeEncryption = z.object({
  provider: z.enum(ENCRYPTION_PROVIDERS),
  cipher: z.string().min(1).max(64),
  keySize: z.number().int().positive(),
  sealedKey: z.string().min(1).max(1024),
});
export type VolumeEncryptionMessage = z.infer<typeof volumeEncryption>;
