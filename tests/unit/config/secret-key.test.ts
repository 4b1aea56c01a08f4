/** Reading and creating the key file (src/config/secret-key.ts). */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadSecretBox, parseSecretKey } from '../../../src/config/index.js';
import { tempDir } from '../../helpers/tmp.js';

test('a key is 32 raw bytes or base64 of 32 bytes; anything else says how to make one', (t) => {
  const key = randomBytes(32);
  t.deepEqual(parseSecretKey(key), key);
  t.deepEqual(parseSecretKey(Buffer.from(`${key.toString('base64')}\n`)), key);
  t.deepEqual(parseSecretKey(Buffer.from(key.toString('base64url'))), key);
  t.regex(parseSecretKey(Buffer.from('short')) as string, /head -c 32 \/dev\/urandom/);
  t.is(typeof parseSecretKey(Buffer.from(randomBytes(16).toString('base64'))), 'string');
});

test('the default key file is created with mode 0600 on first start, and read again after', async (t) => {
  const dir = await tempDir('flint-key-');
  t.teardown(() => dir.cleanup());
  const config = loadConfig({ FLINT_DATA_DIR: join(dir.path, 'data') }, dir.path);
  t.true(config.secretKeyFileIsDefault);
  const first = loadSecretBox(config);
  t.is(first.source, join(dir.path, 'data', 'secret.key'));
  t.is(statSync(first.source).mode & 0o777, 0o600);
  const sealed = first.seal('secret-secret', 'a1');
  t.is(loadSecretBox(config).open(sealed, 'a1'), 'secret-secret');
  t.is(parseSecretKey(readFileSync(first.source)).length, 32);
});

test('a named key file that is missing is a configuration error naming it', async (t) => {
  const dir = await tempDir('flint-key-');
  t.teardown(() => dir.cleanup());
  const file = join(dir.path, 'nope.key');
  const config = loadConfig({ FLINT_DATA_DIR: dir.path, FLINT_SECRET_KEY_FILE: file }, dir.path);
  const err = t.throws(() => loadSecretBox(config), { instanceOf: ConfigError });
  t.regex(err!.message, new RegExp(`FLINT_SECRET_KEY_FILE ${file}: no such file`));
});

test('a named key file with bad contents is a configuration error; a good one is used', async (t) => {
  const dir = await tempDir('flint-key-');
  t.teardown(() => dir.cleanup());
  mkdirSync(dir.path, { recursive: true });
  const file = join(dir.path, 'k');
  writeFileSync(file, 'not a key');
  const config = loadConfig({ FLINT_DATA_DIR: dir.path, FLINT_SECRET_KEY_FILE: file }, dir.path);
  t.throws(() => loadSecretBox(config), { instanceOf: ConfigError, message: /expected 32 bytes/ });
  writeFileSync(file, randomBytes(32));
  t.is(loadSecretBox(config).source, file);
});
