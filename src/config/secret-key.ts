/**
 * The key that seals CHAP secrets (src/domain/secret-box.ts), read once at a gateway's or an
 * agent's start from `FLINT_SECRET_KEY_FILE`: 32 bytes, raw or base64 on one line.
 *
 * The default file, `<dataDir>/secret.key`, is created (mode 0600) when missing, which suits
 * dev mode and one host where every role shares the data dir. A gateway and agents on
 * different hosts must all be given the same key file: an agent with another key cannot
 * open the secrets the gateway sealed, and its exports fail naming the file. A key file
 * named explicitly is never created: missing, it is a configuration error.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SECRET_KEY_BYTES, SecretBox } from '../domain/secret-box.js';
import { ConfigError, type FlintConfig } from './config.js';

/**
 * The key in a key file's contents: exactly 32 bytes, or base64 (standard or url-safe) of 32
 * bytes with surrounding whitespace. Returns why not as a string.
 */
export function parseSecretKey(content: Buffer): Buffer | string {
  if (content.length === SECRET_KEY_BYTES) return Buffer.from(content);
  const text = content.toString('latin1').trim();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === SECRET_KEY_BYTES) return key;
  }
  return `expected ${SECRET_KEY_BYTES} bytes, raw or base64 on one line (make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE), got ${content.length} bytes that are neither`;
}

/**
 * Reads the configured key (creating the default file when missing) into a `SecretBox`.
 * @throws ConfigError naming the file and what to do.
 */
export function loadSecretBox(config: Pick<FlintConfig, 'secretKeyFile' | 'secretKeyFileIsDefault'>): SecretBox {
  const file = config.secretKeyFile;
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError([`FLINT_SECRET_KEY_FILE ${file}: cannot be read: ${(err as Error).message}`]);
    if (!config.secretKeyFileIsDefault) {
      throw new ConfigError([
        `FLINT_SECRET_KEY_FILE ${file}: no such file. Copy the key file the gateway uses to this host (every gateway and agent needs the same one), ` +
          'or, for a new installation, make one: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE',
      ]);
    }
    content = createKeyFile(file);
  }
  const key = parseSecretKey(content);
  if (typeof key === 'string') throw new ConfigError([`FLINT_SECRET_KEY_FILE ${file}: ${key}`]);
  return new SecretBox(key, file);
}

/**
 * Writes a new random key to `file` unless another process got there first: the key goes to
 * a temporary file, then a hard link gives it its name (atomic, fails when the name exists),
 * so two roles starting together end up with the same key and never read a half-written one.
 */
function createKeyFile(file: string): Buffer {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${randomBytes(SECRET_KEY_BYTES).toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError([`FLINT_SECRET_KEY_FILE ${file}: cannot be created: ${(err as Error).message}`]);
  } finally {
    rmSync(tmp, { force: true });
  }
  return readFileSync(file);
}

/** The key file's problems, for a role's start-up configuration check (`flint gateway|agent` exit 2 on them). */
export function secretKeyProblems(config: Pick<FlintConfig, 'secretKeyFile' | 'secretKeyFileIsDefault'>): string[] {
  try {
    loadSecretBox(config);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}
