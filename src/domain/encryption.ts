/**
 * Encryption at rest (Cinder's encryption types): what a volume type's `encryption` spec may
 * say, the per-volume key, and the qemu LUKS options a spec stands for. Pure, but for the
 * random key.
 *
 * Cinder's vocabulary: `provider` LUKS, `cipher` in dm-crypt's notation, `keySize` in bits
 * as cryptsetup counts them (an XTS key holds two AES keys, so `aes-xts-plain64` with 256
 * bits is AES-128 in XTS mode, 512 bits AES-256). qemu's LUKS driver takes the cipher as
 * algorithm, mode and IV generator: `luksQemuOptions` translates.
 *
 * The key of a volume is a random passphrase of 256 bits (base64url text: qemu's LUKS reads
 * passphrases as UTF-8), unlocking the LUKS key slot of that volume's image. It is sealed
 * with the installation's secret key (secret-box.ts, the volume id as associated data) in
 * the database, on the bus and next to the image, and is never returned by the API.
 */
import { randomBytes } from 'node:crypto';
import type { Problems } from './volume-input.js';

export const ENCRYPTION_PROVIDERS = ['LUKS'] as const;
export type EncryptionProvider = (typeof ENCRYPTION_PROVIDERS)[number];

/** The ciphers Flint accepts, with the key sizes (bits) each allows. */
export const CIPHERS: Readonly<Record<string, readonly number[]>> = {
  'aes-xts-plain64': [256, 512],
  'aes-cbc-essiv:sha256': [128, 192, 256],
};
export const DEFAULT_CIPHER = 'aes-xts-plain64';
export const DEFAULT_KEY_SIZE = 256;

/** A volume type's encryption (Cinder's `encryption` of a volume type). */
export interface EncryptionSpec {
  provider: EncryptionProvider;
  cipher: string;
  keySize: number;
}

/** The spec as an API caller gives it; `cipher` and `keySize` may be left out (the defaults). */
export interface EncryptionInput {
  provider?: string | null;
  cipher?: string | null;
  keySize?: number | null;
}

/** Checks a caller's spec, adding every problem to `p`; the full spec, or undefined when not given or invalid. */
export function checkEncryption(p: Problems, input: EncryptionInput | null | undefined): EncryptionSpec | undefined {
  if (input === null || input === undefined) return undefined;
  const provider = input.provider ?? 'LUKS';
  const cipher = input.cipher ?? DEFAULT_CIPHER;
  const keySize = input.keySize ?? DEFAULT_KEY_SIZE;
  const problems: string[] = [];
  if (!(ENCRYPTION_PROVIDERS as readonly string[]).includes(provider)) problems.push(`encryption.provider must be one of ${ENCRYPTION_PROVIDERS.join(', ')} (got "${provider}")`);
  const sizes = Object.hasOwn(CIPHERS, cipher) ? CIPHERS[cipher] : undefined;
  if (!sizes) problems.push(`encryption.cipher must be one of ${Object.keys(CIPHERS).join(', ')} (got "${cipher}")`);
  else if (!sizes.includes(keySize)) problems.push(`encryption.keySize for ${cipher} must be one of ${sizes.join(', ')} bits (got ${keySize})`);
  for (const problem of problems) p.add(problem);
  if (problems.length > 0) return undefined;
  return { provider: provider as EncryptionProvider, cipher, keySize };
}

/** Whether two specs (or their absence) are the same encryption. */
export function sameEncryption(a: EncryptionSpec | null | undefined, b: EncryptionSpec | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.provider === b.provider && a.cipher === b.cipher && a.keySize === b.keySize;
}

/** What a retype between `from` and `to` would do to encryption: why it is refused, or null. */
export function retypeEncryptionProblem(volumeId: string, from: EncryptionSpec | null, to: EncryptionSpec | null, toName: string): string | null {
  if (sameEncryption(from, to)) return null;
  if (!from) {
    return `Volume ${volumeId} is not encrypted and volume type "${toName}" is: a retype cannot encrypt a volume in place. Create an encrypted copy instead: createVolume with volumeType "${toName}" and sourceVolumeId ${volumeId}, then delete this volume.`;
  }
  if (!to) {
    return `Volume ${volumeId} is encrypted and volume type "${toName}" is not: a retype cannot decrypt a volume. Retype it to a volume type with the same encryption, or copy the data to an unencrypted volume through an attachment.`;
  }
  return `Volume ${volumeId} is encrypted with ${describeEncryption(from)} and volume type "${toName}" with ${describeEncryption(to)}: a retype cannot change a volume's encryption. Retype it to a volume type with the same encryption.`;
}

export function describeEncryption(s: EncryptionSpec): string {
  return `${s.provider} ${s.cipher} ${s.keySize}-bit`;
}

/**
 * Why a copy (a clone, or a volume from a snapshot) of a source cannot have the new volume's
 * type `typeName`, or null. A copy of an encrypted source must be encrypted (with its own
 * key); a copy of a plain source may be encrypted (the copy is written through the cipher).
 */
export function copyEncryptionProblem(source: string, sourceEncrypted: boolean, typeName: string | null, encryption: EncryptionSpec | null): string | null {
  if (!sourceEncrypted || encryption) return null;
  const given = typeName ? `volume type "${typeName}" is not encrypted` : 'no volume type was given';
  return `${source} is encrypted and ${given}: a copy of an encrypted volume must be encrypted too. Give a volumeType with an encryption, or leave volumeType out to use the source volume's type.`;
}

/** Why backup `backupId` (of an encrypted volume or not) cannot be restored into volume `volumeId`, or null: data of an encrypted volume goes only into an encrypted one. */
export function restoreEncryptionProblem(backupId: string, backupEncrypted: boolean, volumeId: string, volumeEncrypted: boolean): string | null {
  if (!backupEncrypted || volumeEncrypted) return null;
  return `backup ${backupId} is of an encrypted volume and volume ${volumeId} is not encrypted: its data would be stored in clear. Restore it into an encrypted volume, or into a new volume (restoreBackup without volumeId makes one of the backed-up volume's type).`;
}

/** A new volume key: 32 random bytes as base64url text (a LUKS passphrase; qemu wants UTF-8). */
export function newVolumeKey(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The qemu LUKS creation options (`qemu-img create -o`, without the `encrypt.` prefix that
 * qcow2 adds) for a spec. `iter-time` is short: the passphrase is a random 256-bit key, so
 * stretching it adds no strength, and every open of the image (each export, snapshot, resize)
 * would pay for it.
 */
export function luksQemuOptions(s: Pick<EncryptionSpec, 'cipher' | 'keySize'>): Record<string, string> {
  const [alg, mode, ivgen] = s.cipher.split('-') as [string, string, string];
  const aesBits = mode === 'xts' ? s.keySize / 2 : s.keySize;
  const opts: Record<string, string> = { 'cipher-alg': `${alg}-${aesBits}`, 'cipher-mode': mode, 'hash-alg': 'sha256', 'iter-time': '100' };
  const [gen, hash] = ivgen.split(':') as [string, string | undefined];
  opts['ivgen-alg'] = gen;
  if (hash) opts['ivgen-hash-alg'] = hash;
  return opts;
}
