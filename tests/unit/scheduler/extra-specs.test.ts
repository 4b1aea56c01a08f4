import test from 'ava';
import { boolFromString, matchesSpec } from '../../../src/scheduler/placement/index.js';

/** [what the row shows, capability value, spec, expected] */
const cases: Array<[string, unknown, string, boolean]> = [
  // plain strings: equality with the whole spec
  ['a plain spec matches an equal string', 'lvm', 'lvm', true],
  ['a plain spec does not match a different string', 'lvm', 'nfs', false],
  ['a plain spec is case-sensitive for strings', 'LVM', 'lvm', false],
  ['a plain spec with spaces is compared whole', 'fast ssd', 'fast ssd', true],
  ['an unknown first word makes the spec a plain string', 'foo bar', 'foo bar', true],
  ['a plain spec matches a number by its text', 5, '5', true],
  ['a plain spec matches a boolean in any case', true, 'true', true],
  ['a plain spec does not match the opposite boolean', false, 'True', false],
  // =  (Cinder's legacy "at least")
  ['= matches a larger number', 10, '= 4', true],
  ['= matches an equal number', '4', '= 4', true],
  ['= does not match a smaller number', 3, '= 4', false],
  ['= compares numerically, not as text', '10', '= 9', true],
  ['= does not match a non-numeric capability', 'many', '= 4', false],
  ['= without an operand never matches', 10, '=', false],
  // ==
  ['== matches numerically equal values', '4.0', '== 4', true],
  ['== does not match different numbers', 5, '== 4', false],
  ['== does not match an empty capability', '', '== 0', false],
  // !=
  ['!= matches different numbers', 5, '!= 4', true],
  ['!= does not match equal numbers', 4, '!= 4.0', false],
  ['!= does not match a non-numeric capability', 'x', '!= 4', false],
  // >=
  ['>= matches a larger number', 5, '>= 4', true],
  ['>= matches an equal number', 4, '>= 4', true],
  ['>= does not match a smaller number', 3.5, '>= 4', false],
  ['>= reads exponents like Python float()', '1e3', '>= 999', true],
  // <=
  ['<= matches a smaller number', 3, '<= 4', true],
  ['<= matches an equal number', 4, '<= 4', true],
  ['<= does not match a larger number', 5, '<= 4', false],
  // s== / s!=
  ['s== matches an equal string', 'gold', 's== gold', true],
  ['s== does not match a different string', 'gold', 's== silver', false],
  ['s== compares a boolean as Python prints it', true, 's== True', true],
  ['s!= matches a different string', 'gold', 's!= silver', true],
  ['s!= does not match an equal string', 'gold', 's!= gold', false],
  // s< s<= s> s>=
  ['s< matches a string that sorts first', 'abc', 's< abd', true],
  ['s< does not match an equal string', 'abc', 's< abc', false],
  ['s< compares as text, not numbers', '10', 's< 9', true],
  ['s<= matches an equal string', 'abc', 's<= abc', true],
  ['s<= does not match a string that sorts later', 'abd', 's<= abc', false],
  ['s> matches a string that sorts later', 'b', 's> a', true],
  ['s> does not match an equal string', 'a', 's> a', false],
  ['s>= matches an equal string', 'a', 's>= a', true],
  ['s>= does not match a string that sorts first', 'a', 's>= b', false],
  // <in>
  ['<in> matches a substring', 'ssd,nvme', '<in> nvme', true],
  ['<in> does not match a missing substring', 'ssd,hdd', '<in> nvme', false],
  ['<in> looks only at the first operand', 'ssd', '<in> ssd nvme', true],
  // <all-in>
  ['<all-in> matches when every operand is present', 'aes,mmx,vmx', '<all-in> aes vmx', true],
  ['<all-in> does not match when one operand is missing', 'aes,mmx', '<all-in> aes vmx', false],
  ['<all-in> without operands never matches', 'aes', '<all-in>', false],
  // <is>
  ['<is> True matches a true boolean', true, '<is> True', true],
  ['<is> is case-insensitive', true, '<is> tRuE', true],
  ['<is> True does not match a false boolean', false, '<is> True', false],
  ['<is> False matches a false boolean', false, '<is> False', true],
  ['<is> reads "yes" as true', 'yes', '<is> True', true],
  ['<is> reads "1" as true', 1, '<is> true', true],
  ['<is> reads an unknown word as false', 'banana', '<is> False', true],
  // <or>
  ['<or> matches the first alternative', 'gold', '<or> gold <or> silver', true],
  ['<or> matches a middle alternative', 'silver', '<or> gold <or> silver <or> bronze', true],
  ['<or> matches the last alternative', 'bronze', '<or> gold <or> silver <or> bronze', true],
  ['<or> does not match a value outside the alternatives', 'tin', '<or> gold <or> silver', false],
  ['<or> skips the words in keyword positions', 'silver', '<or> gold silver', false],
  ['<or> without alternatives never matches', 'gold', '<or>', false],
  // missing and list values
  ['a missing capability never matches an operator', undefined, '<is> False', false],
  ['a missing capability never matches a plain spec', null, 'lvm', false],
  ['a list matches when any element does', ['ssd', 'nvme'], 's== nvme', true],
  ['a list does not match when no element does', ['ssd', 'hdd'], 's== nvme', false],
  ['an object capability never matches', { a: 1 }, '[object Object]', false],
];

for (const [name, value, spec, expected] of cases) {
  test(`${name} (${JSON.stringify(value) ?? 'undefined'} vs "${spec}")`, (t) => {
    t.is(matchesSpec(value, spec), expected);
  });
}

const bools: Array<[unknown, boolean]> = [
  [true, true],
  [false, false],
  ['t', true],
  ['On', true],
  [' y ', true],
  ['0', false],
  ['', false],
  [2, false],
];
for (const [input, expected] of bools) {
  test(`boolFromString reads ${JSON.stringify(input)} as ${expected}, like oslo`, (t) => {
    t.is(boolFromString(input), expected);
  });
}
