/**
 * Secrets at rest and on the bus (the CHAP secret of an attachment): AES-256-GCM with the
 * key of `FLINT_SECRET_KEY_FILE` (src/config/secret-key.ts reads it), in the text form
 * `v1:<iv>:<tag>:<ciphertext>` (base64url, 12-byte IV, 16-byte tag). The id of what the
 * secret belongs to (the attachment id) is the associated data: a sealed value copied onto
 * another attachment does not open. Pure: no I/O.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Prefix of a sealed value; anything else is clear text stored before secrets were sealed. */
export const SEALED_PREFIX = 'v1:';
/** AES-256: the key is 32 bytes. */
export const SECRET_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';

/** A value that cannot be sealed or opened; the message says which key and what to do. */
export class SecretBoxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretBoxError';
  }
}

/** Whether `value` has the sealed form's prefix (a clear-text value from before has not). */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

export class SecretBox {
  readonly #key: Buffer;

  /**
   * @param key 32 bytes.
   * @param source Where the key came from (its file), named in every error.
   */
  constructor(key: Uint8Array, readonly source: string) {
    if (key.length !== SECRET_KEY_BYTES) throw new SecretBoxError(`the secret key from ${source} must be ${SECRET_KEY_BYTES} bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
  }

  /** Seals `plaintext` for `owner` (e.g. an attachment id); a new random IV every time. */
  seal(plaintext: string, owner: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(owner, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${SEALED_PREFIX}${b64(iv)}:${b64(cipher.getAuthTag())}:${b64(ct)}`;
  }

  /**
   * Opens a value `seal` made for the same `owner`.
   * @throws SecretBoxError when it is not in the sealed form, or does not open: another key,
   * another owner, or altered bytes (GCM cannot tell these apart).
   */
  open(sealed: string, owner: string): string {
    const parts = isSealed(sealed) ? sealed.slice(SEALED_PREFIX.length).split(':') : [];
    const [iv, tag, ct] = parts.map((p) => Buffer.from(p, 'base64url'));
    if (parts.length !== 3 || iv!.length !== IV_BYTES || tag!.length !== TAG_BYTES || ct!.length === 0) {
      throw new SecretBoxError(`the secret of ${owner} is not a sealed value (expected ${SEALED_PREFIX}<iv>:<tag>:<ciphertext>)`);
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, this.#key, iv!, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(owner, 'utf8'));
      decipher.setAuthTag(tag!);
      return Buffer.concat([decipher.update(ct!), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new SecretBoxError(
        `the secret of ${owner} does not open with the key from ${this.source}: that key is not the one that sealed it ` +
          '(every gateway and agent must use the same FLINT_SECRET_KEY_FILE contents), or the stored value was altered or belongs to another object',
        { cause: err },
      );
    }
  }
}

function b64(b: Buffer): string {
  return b.toString('base64url');
}
