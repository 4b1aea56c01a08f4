import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { cell, formatAge, formatGiB, formatProperties, progressLine, render, renderFields, renderTable } from '../../../src/cli/output.js';

test('sizes read like people write them', (t) => {
  t.is(formatGiB(1), '1 GiB');
  t.is(formatGiB(20), '20 GiB');
  t.is(formatGiB(95.34), '95.3 GiB');
  t.is(formatGiB(0.5), '512 MiB');
  t.is(formatGiB(0), '0 GiB');
  t.is(formatGiB(1024), '1 TiB');
  t.is(formatGiB(1536), '1.5 TiB');
  t.is(formatGiB(3 * 1024 * 1024), '3 PiB');
  t.is(formatGiB(Number.NaN), '-');
});

test('ages count back from now', (t) => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  t.is(formatAge('2026-01-01T11:59:56Z', now), '4s ago');
  t.is(formatAge('2026-01-01T11:57:00Z', now), '3m ago');
  t.is(formatAge('2026-01-01T10:00:00Z', now), '2h ago');
  t.is(formatAge('2025-12-27T12:00:00Z', now), '5d ago');
  t.is(formatAge('2026-01-01T12:00:03Z', now), '0s ago', 'a clock slightly ahead is not negative');
  t.is(formatAge('not a date', now), 'not a date');
});

test('properties print sorted as key=\'value\', and - when there are none', (t) => {
  t.is(formatProperties({ tier: 'gold', app: 'pg' }), "app='pg', tier='gold'");
  t.is(formatProperties({}), '-');
  t.is(formatProperties(null), '-');
});

test('missing cells show -', (t) => {
  t.is(cell(null), '-');
  t.is(cell(undefined), '-');
  t.is(cell(''), '-');
  t.is(cell(3), '3');
  t.is(cell('x'), 'x');
});

test('tables align columns under capital headers, right-aligning where asked', (t) => {
  const text = renderTable(['Name', 'Size', 'Zone'], [['a', '1 GiB', 'nova'], ['longer-name', '20 GiB', 'z2']], ['left', 'right']);
  t.is(text, ['NAME           SIZE  ZONE', '-----------  ------  ----', 'a             1 GiB  nova', 'longer-name  20 GiB  z2', ''].join('\n'));
});

test('a table without rows is its header', (t) => {
  t.is(renderTable(['ID', 'Name'], []), 'ID  NAME\n--  ----\n');
});

test('a cell with newlines takes several lines and keeps the columns aligned', (t) => {
  const text = renderFields([
    ['id', 'v1'],
    ['latest_message', 'line one\nline two'],
    ['status', 'ERROR'],
  ]);
  t.is(text, ['FIELD           VALUE', '--------------  --------', 'id              v1', 'latest_message  line one', '                line two', 'status          ERROR', ''].join('\n'));
});

test('json and yaml print the data as given; table calls the builder', (t) => {
  const data = [{ id: 'a', metadata: { k: 'v' }, host: null }];
  t.deepEqual(JSON.parse(render('json', data, () => t.fail() as never)), data);
  t.deepEqual(parseYaml(render('yaml', data, () => t.fail() as never)), data);
  t.is(render('table', data, () => 'TABLE\n'), 'TABLE\n');
});

test('the progress line shows a spinner frame, the status and whole seconds', (t) => {
  t.is(progressLine(0, 'volume db', 'CREATING', 3400), '⠋ volume db: CREATING (3s)');
  t.is(progressLine(11, 'volume db', 'CREATING', 0), '⠙ volume db: CREATING (0s)');
});
