/** The sealing of secrets (src/domain/secret-box.ts): AES-256-GCM bound to its owner's id. */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { isSealed, SecretBox, SecretBoxError } from '../../../src/domain/secret-box.js';

const box = new SecretBox(randomBytes(32), '/etc/flint/secret.key');
const A = '6f1c2d3e-0000-4000-8000-000000000001';
const B = '6f1c2d3e-0000-4000-8000-000000000002';

test('a sealed secret opens to the same text, and the sealed form does not contain it', (t) => {
  const sealed = box.seal('a1b2c3d4e5f6a1b2c3d4e5f6', A);
  t.true(isSealed(sealed));
  t.regex(sealed, /^v1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
  t.false(sealed.includes('a1b2c3d4e5f6'));
  t.is(box.open(sealed, A), 'a1b2c3d4e5f6a1b2c3d4e5f6');
});

test('sealing twice gives two different values (a new IV each time)', (t) => {
  t.not(box.seal('same-secret-1', A), box.seal('same-secret-1', A));
});

test('another key does not open it, and the error names the key file', (t) => {
  const sealed = box.seal('secret-secret', A);
  const other = new SecretBox(randomBytes(32), '/srv/other.key');
  const err = t.throws(() => other.open(sealed, A), { instanceOf: SecretBoxError });
  t.regex(err!.message, /does not open with the key from \/srv\/other\.key/);
});

test('a tampered ciphertext, tag or IV does not open', (t) => {
  const sealed = box.seal('secret-secret', A);
  const [v, iv, tag, ct] = sealed.split(':');
  const flip = (s: string) => {
    const b = Buffer.from(s, 'base64url');
    b[0]! ^= 1;
    return b.toString('base64url');
  };
  for (const bad of [[v, iv, tag, flip(ct!)], [v, iv, flip(tag!), ct], [v, flip(iv!), tag, ct]]) {
    t.throws(() => box.open(bad.join(':'), A), { instanceOf: SecretBoxError });
  }
});

test('a secret sealed for one attachment does not open for another', (t) => {
  const sealed = box.seal('secret-secret', A);
  t.throws(() => box.open(sealed, B), { instanceOf: SecretBoxError });
});

test('clear text and malformed values are refused as not sealed', (t) => {
  t.false(isSealed('a1b2c3d4e5f6a1b2c3d4e5f6'));
  t.throws(() => box.open('a1b2c3d4e5f6a1b2c3d4e5f6', A), { instanceOf: SecretBoxError, message: /not a sealed value/ });
  t.throws(() => box.open('v1:abc:def', A), { instanceOf: SecretBoxError, message: /not a sealed value/ });
});

test('a key of the wrong length is refused', (t) => {
  t.throws(() => new SecretBox(randomBytes(16), '/k'), { instanceOf: SecretBoxError, message: /must be 32 bytes, got 16/ });
});
