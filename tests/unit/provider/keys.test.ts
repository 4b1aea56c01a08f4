import test from 'ava';
import { canonicalJson, createKey, specHash } from '../../../src/provider/index.js';

const input = { name: 'web-db', sizeGiB: 10, metadata: { purpose: 'db', 'flint.stack': 'web', 'flint.name': 'db' }, description: null };

test('the key is stack, name and spec hash, under the flint-apply prefix', (t) => {
  t.regex(createKey('web', 'db', input), /^flint-apply\/web\/db\/[0-9a-f]{16}$/);
});

test('the same spec gives the same key whatever the order of its fields and metadata', (t) => {
  const reordered = { description: null, metadata: { 'flint.name': 'db', 'flint.stack': 'web', purpose: 'db' }, sizeGiB: 10, name: 'web-db' };
  t.is(createKey('web', 'db', reordered), createKey('web', 'db', input));
  t.is(canonicalJson(reordered), canonicalJson(input));
});

test('another value of any field, stack or name gives another key', (t) => {
  const base = createKey('web', 'db', input);
  t.not(createKey('web', 'db', { ...input, sizeGiB: 11 }), base);
  t.not(createKey('web', 'db', { ...input, metadata: { ...input.metadata, purpose: 'cache' } }), base);
  t.not(createKey('web2', 'db', input), base);
  t.not(createKey('web', 'db2', input), base);
});

test('a key given in the input does not change the hash', (t) => {
  t.is(specHash({ ...input, idempotencyKey: 'x' }), specHash(input));
});

test('later attempts add their number, the same sequence every time', (t) => {
  t.is(createKey('web', 'db', input, 0), createKey('web', 'db', input));
  t.is(createKey('web', 'db', input, 2), `${createKey('web', 'db', input)}/2`);
});
