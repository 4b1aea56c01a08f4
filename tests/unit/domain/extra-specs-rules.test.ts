/** Extra-spec checks of src/domain/extra-specs-rules.ts: what createVolumeType and updateVolumeType accept and refuse. */
import test from 'ava';
import { BadInputError } from '../../../src/domain/errors.js';
import { checkExtraSpecs, specSyntaxProblem } from '../../../src/domain/extra-specs-rules.js';
import { Problems } from '../../../src/domain/volume-input.js';

function problemsOf(specs: unknown): readonly string[] {
  const p = new Problems();
  checkExtraSpecs(p, specs);
  try {
    p.throwIfAny();
    return [];
  } catch (err) {
    if (!(err instanceof BadInputError)) throw err;
    return err.problems;
  }
}

test('no extra specs is accepted and gives undefined', (t) => {
  const p = new Problems();
  t.is(checkExtraSpecs(p, undefined), undefined);
  t.is(checkExtraSpecs(p, null), undefined);
  t.false(p.any);
});

test('every operator of Cinder extra_specs_ops with its operand is accepted', (t) => {
  const specs = {
    'capabilities:tier': 'gold',
    'capabilities:ssd': '<is> True',
    'capabilities:iops': '>= 1000',
    'capabilities:size': '= 10',
    'capabilities:n': '== 2',
    'capabilities:m': '!= 3',
    'capabilities:k': '<= 4.5',
    'capabilities:name': 's== abc',
    'capabilities:name2': 's>= b',
    'capabilities:media': '<in> ssd',
    'capabilities:words': '<all-in> fast ssd',
    'capabilities:zone': '<or> a <or> b <or> c',
    compression: '<is> false',
    'provisioning:type': 'thick',
    'qos:maxIOPS': 'anything goes for drivers',
  };
  t.deepEqual(problemsOf(specs), []);
  t.deepEqual(problemsOf({ 'provisioning:type': 'thin' }), []);
});

test('provisioning:type other than thin or thick is refused', (t) => {
  const problems = problemsOf({ 'provisioning:type': 'fat' });
  t.is(problems.length, 1);
  t.regex(problems[0]!, /provisioning:type.*thin or thick.*"fat"/);
});

test('an operator without its operand is refused, naming the key', (t) => {
  for (const [spec, why] of [
    ['<is>', /True or False/],
    ['<is> maybe', /True or False/],
    ['>=', /one number/],
    ['>= ten', /one number/],
    ['<in>', /exactly one word/],
    ['s== a b', /exactly one word/],
    ['<all-in>', /at least one word/],
    ['<or>', /<or> a <or> b/],
    ['<or> a b', /<or> a <or> b/],
    ['<or> a <or>', /<or> a <or> b/],
    ['<like> x', /unknown operator <like>/],
    ['   ', /is empty/],
  ] as const) {
    const problems = problemsOf({ 'capabilities:x': spec });
    t.is(problems.length, 1, spec);
    t.regex(problems[0]!, /"capabilities:x"/, spec);
    t.regex(problems[0]!, why, spec);
  }
});

test('nested capability keys are refused, other scopes are left to drivers', (t) => {
  t.regex(problemsOf({ 'capabilities:a:b': 'x' })[0]!, /must name one capability/);
  t.regex(problemsOf({ 'capabilities:': 'x' })[0]!, /must name one capability/);
  t.deepEqual(problemsOf({ 'replication:mode': '<weird>' }), []);
});

test('values that are not strings, and bad shapes, are refused with every problem at once', (t) => {
  t.regex(problemsOf([])[0]!, /JSON object/);
  t.regex(problemsOf('gold')[0]!, /JSON object/);
  const problems = problemsOf({ 'capabilities:a': 5, 'capabilities:b': true, '': 'x', 'capabilities:c': 'x'.repeat(256) });
  t.is(problems.length, 4);
  t.true(problems.some((p) => /"capabilities:a" must be a string \(got number\)/.test(p)));
  t.true(problems.some((p) => /"capabilities:b" must be a string \(got boolean\)/.test(p)));
  t.true(problems.some((p) => /key "" must be 1 to 255/.test(p)));
  t.true(problems.some((p) => /at most 255 characters/.test(p)));
});

test('more than 64 keys is refused', (t) => {
  const specs = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  t.regex(problemsOf(specs)[0]!, /at most 64 keys \(got 65\)/);
});

test('a plain word that is not an operator is an equality spec', (t) => {
  t.is(specSyntaxProblem('gold'), null);
  t.is(specSyntaxProblem('True'), null);
  t.is(specSyntaxProblem('<is> TRUE'), null);
});
