import test from 'ava';
import { findUnsafeChar, isIdShaped, malformedIdMessage, quoteForMessage, unsafeTextMessage } from '../../../src/domain/text-hygiene.js';

test('NUL, the other C0 controls, DEL and the C1 controls are refused in a name', (t) => {
  for (const cp of [0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9f]) {
    t.like(findUnsafeChar(`ab${String.fromCharCode(cp)}c`), { position: 3, codePoint: cp, kind: 'control' }, cp.toString(16));
  }
});

test('printable text, other scripts, emoji and combining marks are accepted', (t) => {
  for (const s of ['db-data', 'Übergröße', '数据库', 'دیتابیس', '👍🏽 👨‍👩‍👧', 'e\u0301\u0301', '\u00a0nbsp', '\ufffd', '']) t.is(findUnsafeChar(s), undefined, s);
});

test('multiline text keeps line feeds and tabs, but not a carriage return or NUL', (t) => {
  t.is(findUnsafeChar('line 1\nline 2\tend', 'multiline'), undefined);
  t.like(findUnsafeChar('a\r\nb', 'multiline'), { codePoint: 0x0d, kind: 'control' });
  t.like(findUnsafeChar('a\u0000', 'multiline'), { codePoint: 0, kind: 'control' });
  t.like(findUnsafeChar('a\nb'), { codePoint: 0x0a, kind: 'control' }, 'a line refuses a line feed');
});

test('unpaired surrogates are refused, a surrogate pair is one character', (t) => {
  t.like(findUnsafeChar('x\ud800'), { position: 2, codePoint: 0xd800, kind: 'surrogate' });
  t.like(findUnsafeChar('\udc00x'), { position: 1, codePoint: 0xdc00, kind: 'surrogate' });
  t.like(findUnsafeChar('\ud800\ud800\udc00'), { position: 1, codePoint: 0xd800, kind: 'surrogate' });
  t.is(findUnsafeChar('\ud83d\ude00'), undefined);
});

test('bidirectional overrides and isolates are refused', (t) => {
  for (const cp of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
    t.like(findUnsafeChar(`invoice${String.fromCharCode(cp)}fdp.exe`), { position: 8, codePoint: cp, kind: 'bidi' }, cp.toString(16));
  }
});

test('the position counts characters, not UTF-16 units', (t) => {
  t.like(findUnsafeChar('👍👍\u0000'), { position: 3 });
});

test('a message names the path, the character and what to do, without carrying the character', (t) => {
  const msg = unsafeTextMessage('input.name', findUnsafeChar('a\u202eb')!, 'line');
  t.regex(msg, /^input\.name contains U\+202E, a bidirectional override or isolate, at character 2: .*; remove it$/);
  t.false(msg.includes('\u202e'));
  t.regex(unsafeTextMessage('input.description', findUnsafeChar('a\rb', 'multiline')!, 'multiline'), /line feeds and tabs are fine here.*use \\n alone for line breaks$/);
});

test('quoteForMessage escapes controls, surrogates, bidi, quotes and backslashes, and cuts long values', (t) => {
  t.is(quoteForMessage('a\u0000b\u202e"\\\ud800'), '"a\\u0000b\\u202e\\"\\\\\\ud800"');
  t.is(quoteForMessage('x'.repeat(100), 5), '"xxxxx…"');
  t.is(quoteForMessage('👍👍', 2), '"👍👍"');
  t.is(quoteForMessage('👍👍👍', 2), '"👍👍…"');
});

test('ids are UUIDs in either case, and nothing else', (t) => {
  t.true(isIdShaped('3f2b8c1e-0a4d-4e5f-9a8b-7c6d5e4f3a2b'));
  t.true(isIdShaped('3F2B8C1E-0A4D-4E5F-9A8B-7C6D5E4F3A2B'));
  t.true(isIdShaped('00000000-0000-0000-0000-000000000000'));
  for (const s of ['', 'x', '3f2b8c1e0a4d4e5f9a8b7c6d5e4f3a2b', ' 3f2b8c1e-0a4d-4e5f-9a8b-7c6d5e4f3a2b', '3f2b8c1e-0a4d-4e5f-9a8b-7c6d5e4f3a2b\n', 'g'.repeat(8) + '-0a4d-4e5f-9a8b-7c6d5e4f3a2b']) {
    t.false(isIdShaped(s), JSON.stringify(s));
  }
});

test('a malformed id message quotes a short prefix of the value and says what ids look like', (t) => {
  const msg = malformedIdMessage('input.id', 'x'.repeat(10_000));
  t.true(msg.length < 300, msg);
  t.regex(msg, /^input\.id "x{40}…" is not an id Flint gave out: ids are UUIDs/);
});
