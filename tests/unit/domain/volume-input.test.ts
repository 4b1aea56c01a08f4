/** Input checks of src/domain/volume-input.ts: each check adds problems; `Problems` reports them all at once. */
import test from 'ava';
import { BadInputError } from '../../../src/domain/errors.js';
import {
  LIMITS,
  Problems,
  checkDescription,
  checkIdempotencyKey,
  checkMetadata,
  checkName,
  checkPageSize,
  checkSize,
  checkZone,
} from '../../../src/domain/volume-input.js';

/** Runs one check on a fresh `Problems` and returns the problems of the BadInputError it throws ([] when it throws none). */
function problemsOf(check: (p: Problems) => unknown): readonly string[] {
  const p = new Problems();
  check(p);
  try {
    p.throwIfAny();
  } catch (err) {
    if (err instanceof BadInputError && err.code === 'BAD_USER_INPUT') return err.problems;
    throw err;
  }
  if (p.any) throw new Error('Problems.any is true but throwIfAny did not throw');
  return [];
}

// names

test('a name of 1 character is accepted', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', 'a', true)), []);
});

test('a name of 255 characters is accepted', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', 'n'.repeat(255), true)), []);
});

test('a name of 256 characters is refused with its length', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', 'n'.repeat(256), true)), ['name must be at most 255 characters (got 256)']);
});

test('a name of 255 characters outside the BMP (emoji) is accepted, since it is 255 characters', (t) => {
  // PostgreSQL's varchar(255) counts characters (code points), and so do users; UTF-16 code units are an implementation detail.
  t.deepEqual(problemsOf((p) => checkName(p, 'name', '🧱'.repeat(255), true)), []);
});

test('an empty name is refused', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', '', true)), ['name must not be empty or blank']);
});

test('a blank name is refused', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', '   ', true)), ['name must not be empty or blank']);
});

test('a name with a control character is refused', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', 'db\u0000data', true)), ['name must not contain control characters']);
  t.deepEqual(problemsOf((p) => checkName(p, 'name', 'tab\there', true)), ['name must not contain control characters']);
  t.deepEqual(problemsOf((p) => checkName(p, 'name', 'del\u007f', true)), ['name must not contain control characters']);
  t.deepEqual(problemsOf((p) => checkName(p, 'name', 'line\nbreak', true)), ['name must not contain control characters']);
});

test('a missing name is refused only when required', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', undefined, true)), ['name is required']);
  t.deepEqual(problemsOf((p) => checkName(p, 'name', null, true)), ['name is required']);
  t.deepEqual(problemsOf((p) => checkName(p, 'name', undefined, false)), []);
  t.deepEqual(problemsOf((p) => checkName(p, 'name', null, false)), []);
});

test('a name problem is reported under the field name given', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'snapshotName', '', true)), ['snapshotName must not be empty or blank']);
});

test('a name that is too long and has control characters reports both problems', (t) => {
  t.deepEqual(problemsOf((p) => checkName(p, 'name', `${'n'.repeat(256)}\u0001`, true)), [
    'name must be at most 255 characters (got 257)',
    'name must not contain control characters',
  ]);
});

// descriptions

test('a description of 1024 characters is accepted and one of 1025 is refused', (t) => {
  t.deepEqual(problemsOf((p) => checkDescription(p, 'd'.repeat(LIMITS.descriptionMax))), []);
  t.deepEqual(problemsOf((p) => checkDescription(p, 'd'.repeat(LIMITS.descriptionMax + 1))), [
    'description must be at most 1024 characters (got 1025)',
  ]);
  t.deepEqual(problemsOf((p) => checkDescription(p, null)), []);
});

// sizes

const sizeMessage = (got: number) => `size must be a whole number of GiB from 1 to 65536 (got ${got})`;

for (const size of [1, 2, 1024, 65_536]) {
  test(`a size of ${size} GiB is accepted`, (t) => {
    t.deepEqual(problemsOf((p) => checkSize(p, 'size', size)), []);
  });
}

for (const size of [0, -1, -10, 65_537, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
  test(`a size of ${size} GiB is refused with the range`, (t) => {
    t.deepEqual(problemsOf((p) => checkSize(p, 'size', size)), [sizeMessage(size)]);
  });
}

test('a missing size is not a problem of checkSize', (t) => {
  t.deepEqual(problemsOf((p) => checkSize(p, 'size', undefined)), []);
  t.deepEqual(problemsOf((p) => checkSize(p, 'size', null)), []);
});

test('the size limits are 1 GiB to 64 TiB', (t) => {
  t.is(LIMITS.sizeMinGiB as number, 1);
  t.is(LIMITS.sizeMaxGiB as number, 64 * 1024);
});

// metadata

test('flat string metadata is accepted and returned as given', (t) => {
  const m = { purpose: 'db', tier: 'gold' };
  const p = new Problems();
  t.is(checkMetadata(p, m), m);
  t.false(p.any);
});

test('missing metadata is accepted as undefined', (t) => {
  const p = new Problems();
  t.is(checkMetadata(p, undefined), undefined);
  t.is(checkMetadata(p, null), undefined);
  t.false(p.any);
});

for (const [what, value] of [
  ['a string', 'purpose=db'],
  ['a number', 42],
  ['a boolean', true],
  ['an array', [['purpose', 'db']]],
] as Array<[string, unknown]>) {
  test(`metadata that is ${what} is refused as not an object`, (t) => {
    const p = new Problems();
    t.is(checkMetadata(p, value), undefined);
    t.deepEqual(problemsOf((q) => checkMetadata(q, value)), ['metadata must be a JSON object of string values, e.g. {"purpose": "db"}']);
  });
}

test('metadata values that are not strings are refused, one problem each', (t) => {
  t.deepEqual(problemsOf((p) => checkMetadata(p, { n: 1, b: false, z: null, o: { x: 'y' }, ok: 'fine' })), [
    'metadata value of "n" must be a string (got number)',
    'metadata value of "b" must be a string (got boolean)',
    'metadata value of "z" must be a string (got null)',
    'metadata value of "o" must be a string (got object)',
  ]);
});

test('metadata with 64 keys is accepted and with 65 keys refused', (t) => {
  const of = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
  t.deepEqual(problemsOf((p) => checkMetadata(p, of(64))), []);
  t.deepEqual(problemsOf((p) => checkMetadata(p, of(65))), ['metadata may have at most 64 keys (got 65)']);
});

test('a metadata key of 255 characters is accepted and one of 256 refused', (t) => {
  t.deepEqual(problemsOf((p) => checkMetadata(p, { ['k'.repeat(255)]: 'v' })), []);
  const problems = problemsOf((p) => checkMetadata(p, { ['k'.repeat(256)]: 'v' }));
  t.deepEqual(problems, [`metadata key "${'k'.repeat(40)}" must be 1 to 255 characters`], 'the key is quoted shortened');
});

test('an empty metadata key is refused', (t) => {
  t.deepEqual(problemsOf((p) => checkMetadata(p, { '': 'v' })), ['metadata key "" must be 1 to 255 characters']);
});

test('a metadata value of 255 characters is accepted and one of 256 refused', (t) => {
  t.deepEqual(problemsOf((p) => checkMetadata(p, { k: 'v'.repeat(255) })), []);
  t.deepEqual(problemsOf((p) => checkMetadata(p, { k: 'v'.repeat(256) })), ['metadata value of "k" must be at most 255 characters']);
});

// zones

for (const zone of ['nova', 'az-1', 'eu-west.1:b_2', 'z'.repeat(255)]) {
  test(`the availability zone "${zone.slice(0, 20)}" (${zone.length} chars) is accepted`, (t) => {
    t.deepEqual(problemsOf((p) => checkZone(p, zone)), []);
  });
}

for (const zone of ['', 'two words', 'a/b', 'zone\n', 'z'.repeat(256)]) {
  test(`the availability zone ${JSON.stringify(zone.slice(0, 20))} (${zone.length} chars) is refused`, (t) => {
    t.deepEqual(problemsOf((p) => checkZone(p, zone)), ['availabilityZone must be 1 to 255 letters, digits, ".", ":", "-" or "_"']);
  });
}

test('a missing availability zone is not a problem', (t) => {
  t.deepEqual(problemsOf((p) => checkZone(p, undefined)), []);
  t.deepEqual(problemsOf((p) => checkZone(p, null)), []);
});

// idempotency keys

test('an idempotency key of 1 to 255 characters is accepted', (t) => {
  t.deepEqual(problemsOf((p) => checkIdempotencyKey(p, 'k')), []);
  t.deepEqual(problemsOf((p) => checkIdempotencyKey(p, 'k'.repeat(255))), []);
  t.deepEqual(problemsOf((p) => checkIdempotencyKey(p, undefined)), []);
  t.deepEqual(problemsOf((p) => checkIdempotencyKey(p, null)), []);
});

test('an empty or 256-character idempotency key is refused', (t) => {
  const message = ['idempotencyKey must be 1 to 255 characters'];
  t.deepEqual(problemsOf((p) => checkIdempotencyKey(p, '')), message);
  t.deepEqual(problemsOf((p) => checkIdempotencyKey(p, 'k'.repeat(256))), message);
});

// page sizes

test('a missing page size means the default of 50', (t) => {
  const p = new Problems();
  t.is(checkPageSize(p, undefined), 50);
  t.is(checkPageSize(p, null), 50);
  t.false(p.any);
});

for (const first of [0, 1, 50, 500]) {
  test(`a page size of ${first} is accepted as is`, (t) => {
    const p = new Problems();
    t.is(checkPageSize(p, first), first);
    t.false(p.any);
  });
}

for (const first of [-1, 501, 2.5]) {
  test(`a page size of ${first} is refused and the default used`, (t) => {
    const p = new Problems();
    t.is(checkPageSize(p, first), LIMITS.pageDefault);
    t.deepEqual(problemsOf((q) => checkPageSize(q, first)), [`first must be from 0 to 500 (got ${first})`]);
  });
}

// Problems

test('Problems with nothing added has no problems and does not throw', (t) => {
  const p = new Problems();
  t.false(p.any);
  t.notThrows(() => p.throwIfAny());
});

test('Problems collects several problems into one BadInputError that lists all of them', (t) => {
  const p = new Problems();
  checkName(p, 'name', ' ', true);
  checkSize(p, 'size', 0);
  checkMetadata(p, { n: 1 });
  checkZone(p, 'bad zone');
  checkIdempotencyKey(p, '');
  checkPageSize(p, 501);
  t.true(p.any);
  const err = t.throws(() => p.throwIfAny(), { instanceOf: BadInputError });
  t.is(err.code, 'BAD_USER_INPUT');
  const expected = [
    'name must not be empty or blank',
    sizeMessage(0),
    'metadata value of "n" must be a string (got number)',
    'availabilityZone must be 1 to 255 letters, digits, ".", ":", "-" or "_"',
    'idempotencyKey must be 1 to 255 characters',
    'first must be from 0 to 500 (got 501)',
  ];
  t.deepEqual([...err.problems], expected);
  t.is(err.message, expected.join('; '));
  t.deepEqual(err.details, { problems: expected });
});
