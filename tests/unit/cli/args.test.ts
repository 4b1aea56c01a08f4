import test from 'ava';
import { InvalidArgumentError } from 'commander';
import { collectProperty, collectStatus, isUuid, parsePositiveInt, parseProperty, parseVersion } from '../../../src/cli/commands/args.js';
import { tokenFromDataDir } from '../../../src/cli/commands/context.js';

test('properties are key=value split at the first =', (t) => {
  t.deepEqual(parseProperty('app=pg'), ['app', 'pg']);
  t.deepEqual(parseProperty('capabilities:tier=<in> gold'), ['capabilities:tier', '<in> gold']);
  t.deepEqual(parseProperty('url=a=b'), ['url', 'a=b']);
  t.deepEqual(parseProperty('empty='), ['empty', '']);
  for (const bad of ['novalue', '=v', '']) t.throws(() => parseProperty(bad), { instanceOf: InvalidArgumentError }, bad);
});

test('repeated --property options collect into one object, the last value winning', (t) => {
  let acc = collectProperty('a=1', undefined);
  acc = collectProperty('b=2', acc);
  acc = collectProperty('a=3', acc);
  t.deepEqual(acc, { a: '3', b: '2' });
});

test('statuses are collected, split on commas and upper-cased', (t) => {
  t.deepEqual(collectStatus('available,error', undefined), ['AVAILABLE', 'ERROR']);
  t.deepEqual(collectStatus('creating', ['AVAILABLE']), ['AVAILABLE', 'CREATING']);
  t.throws(() => collectStatus(' , ', undefined), { instanceOf: InvalidArgumentError });
});

test('sizes and limits are whole numbers of at least 1', (t) => {
  t.is(parsePositiveInt('20'), 20);
  for (const bad of ['0', '-1', '1.5', 'abc', '', '99999999999999999999']) t.throws(() => parsePositiveInt(bad), { instanceOf: InvalidArgumentError }, bad);
});

test('versions are whole numbers from 0', (t) => {
  t.is(parseVersion('0'), 0);
  t.is(parseVersion('7'), 7);
  t.throws(() => parseVersion('v7'), { instanceOf: InvalidArgumentError });
});

test('ids are UUIDs; anything else is a name', (t) => {
  t.true(isUuid('0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10'));
  t.true(isUuid('0B5E7F5C-8A4F-4C1E-9A57-2F7D3C8E9A10'));
  t.false(isUuid('db-data'));
  t.false(isUuid('0b5e7f5c-8a4f-4c1e-9a57-2f7d3c8e9a10x'));
});

test('the fallback token is read from $FLINT_DATA_DIR/admin-token, else ./.flint/admin-token', (t) => {
  const files: Record<string, string> = { '/data/admin-token': 'flint_abc\n', '.flint/admin-token': 'flint_local' };
  const read = (p: string) => {
    const text = files[p];
    if (text === undefined) throw new Error('ENOENT');
    return text;
  };
  t.is(tokenFromDataDir({ FLINT_DATA_DIR: '/data' }, read), 'flint_abc');
  t.is(tokenFromDataDir({}, read), 'flint_local');
  t.is(tokenFromDataDir({ FLINT_DATA_DIR: '/elsewhere' }, read), undefined);
  t.is(tokenFromDataDir({ FLINT_DATA_DIR: '/data' }, () => '  \n'), undefined, 'an empty file is no token');
});

