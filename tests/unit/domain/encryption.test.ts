/** The rules of encryption at rest (src/domain/encryption.ts): specs, qemu's LUKS options, and the refusals of retype, copy and restore. */
import test from 'ava';
import {
  checkEncryption,
  copyEncryptionProblem,
  luksQemuOptions,
  newVolumeKey,
  restoreEncryptionProblem,
  retypeEncryptionProblem,
  sameEncryption,
  type EncryptionSpec,
} from '../../../src/domain/encryption.js';
import { Problems } from '../../../src/domain/volume-input.js';

const XTS256: EncryptionSpec = { provider: 'LUKS', cipher: 'aes-xts-plain64', keySize: 256 };

function check(input: Parameters<typeof checkEncryption>[1]): { spec: EncryptionSpec | undefined; problems: string[] } {
  const p = new Problems();
  const spec = checkEncryption(p, input);
  try {
    p.throwIfAny();
    return { spec, problems: [] };
  } catch (err) {
    return { spec, problems: (err as { problems?: string[] }).problems ?? [(err as Error).message] };
  }
}

test('a spec left partly out gets LUKS aes-xts-plain64 256-bit', (t) => {
  t.deepEqual(check({}).spec, XTS256);
  t.deepEqual(check({ keySize: 512 }).spec, { ...XTS256, keySize: 512 });
  t.is(check(null).spec, undefined);
});

test('an unknown provider or cipher, or a key size the cipher does not take, is refused with the allowed ones', (t) => {
  const provider = check({ provider: 'dm-crypt' });
  t.is(provider.spec, undefined);
  t.regex(provider.problems.join('\n'), /provider must be one of LUKS/);
  t.regex(check({ cipher: 'twofish-xts-plain64' }).problems.join('\n'), /cipher must be one of aes-xts-plain64, aes-cbc-essiv:sha256/);
  t.regex(check({ cipher: 'aes-xts-plain64', keySize: 128 }).problems.join('\n'), /keySize for aes-xts-plain64 must be one of 256, 512 bits \(got 128\)/);
  t.regex(check({ cipher: 'constructor' }).problems.join('\n'), /cipher must be one of/);
});

test('qemu gets the AES key size of each half of an XTS key, and the ESSIV hash', (t) => {
  t.like(luksQemuOptions(XTS256), { 'cipher-alg': 'aes-128', 'cipher-mode': 'xts', 'ivgen-alg': 'plain64' });
  t.like(luksQemuOptions({ cipher: 'aes-xts-plain64', keySize: 512 }), { 'cipher-alg': 'aes-256' });
  const cbc = luksQemuOptions({ cipher: 'aes-cbc-essiv:sha256', keySize: 256 });
  t.like(cbc, { 'cipher-alg': 'aes-256', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha256' });
});

test('a volume key is 256 random bits as text, new every time', (t) => {
  const a = newVolumeKey();
  t.is(Buffer.from(a, 'base64url').length, 32);
  t.not(a, newVolumeKey());
});

test('a retype keeps the encryption or is refused, saying what to do instead', (t) => {
  t.is(retypeEncryptionProblem('v', null, null, 'plain'), null);
  t.is(retypeEncryptionProblem('v', XTS256, { ...XTS256 }, 'enc2'), null);
  t.regex(retypeEncryptionProblem('v', XTS256, null, 'plain')!, /cannot decrypt/);
  t.regex(retypeEncryptionProblem('v', null, XTS256, 'enc')!, /createVolume with volumeType "enc" and sourceVolumeId v/);
  t.regex(retypeEncryptionProblem('v', XTS256, { ...XTS256, keySize: 512 }, 'enc512')!, /cannot change a volume's encryption/);
  t.true(sameEncryption(undefined, null));
});

test('a copy of an encrypted source must be encrypted; a plain source may be', (t) => {
  t.is(copyEncryptionProblem('Volume s', false, null, null), null);
  t.is(copyEncryptionProblem('Volume s', false, 'enc', XTS256), null);
  t.is(copyEncryptionProblem('Volume s', true, 'enc', XTS256), null);
  t.regex(copyEncryptionProblem('Volume s', true, 'plain', null)!, /volume type "plain" is not encrypted/);
});

test('a backup of an encrypted volume is not restored into a plain one', (t) => {
  t.is(restoreEncryptionProblem('b', true, 'v', true), null);
  t.is(restoreEncryptionProblem('b', false, 'v', false), null);
  t.regex(restoreEncryptionProblem('b', true, 'v', false)!, /stored in clear/);
});
