/**
 * Volume transfers (issue 12): the key a giver hands to the receiver, kept only as its
 * sha256, and compared in constant time. A wrong key, an ended transfer and a missing one
 * are one answer (NOT_FOUND), so a key cannot be guessed transfer by transfer.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { NotFoundError } from './errors.js';

/** A new key: 16 random bytes, hex (what the receiver types or pastes). */
export function newAuthKey(): string {
  return randomBytes(16).toString('hex');
}

export function hashAuthKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Whether `key` is the one whose hash is stored. */
export function authKeyMatches(key: string, storedHash: string): boolean {
  const given = Buffer.from(hashAuthKey(key), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** The one refusal for a transfer that is missing, ended, expired, or whose key is wrong. */
export function transferNotFound(id: string): NotFoundError {
  return new NotFoundError('Volume transfer', id, `Volume transfer ${id} does not exist, has ended, or the authKey is wrong; check both with the project that created it.`);
}
