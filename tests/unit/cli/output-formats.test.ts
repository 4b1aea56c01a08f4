import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { ColumnError, csvField, lookupColumn, render, renderCsv, renderValue, selectColumns } from '../../../src/cli/output.js';

const volumes = [
  { id: 'v1', name: 'db', status: 'AVAILABLE', sizeGiB: 20, volumeType: null, metadata: { app: 'pg' } },
  { id: 'v2', name: 'logs, old', status: 'ERROR', sizeGiB: 1, volumeType: 'gold', metadata: {} },
];
const payload = { volume: { id: 'v1', name: 'db', status: 'CREATING' }, operation: { id: 'op1', kind: 'create_volume', status: 'RUNNING' } };
const noTable = () => 'TABLE\n';

test('-f value prints the selected values space-separated, one row per line, without a header', (t) => {
  t.is(render('value', volumes, noTable, ['id']), 'v1\nv2\n');
  t.is(render('value', volumes, noTable, ['id', 'status', 'sizeGiB']), 'v1 AVAILABLE 20\nv2 ERROR 1\n');
});

test('a missing value is empty in value and csv, an object is compact JSON', (t) => {
  t.is(render('value', volumes, noTable, ['volumeType', 'metadata']), ' {"app":"pg"}\ngold {}\n');
  t.is(render('csv', volumes, noTable, ['id', 'volumeType']), 'id,volumeType\nv1,\nv2,gold\n');
});

test('-f csv has a header row and quotes fields per RFC 4180', (t) => {
  t.is(render('csv', volumes, noTable, ['id', 'name']), 'id,name\nv1,db\nv2,"logs, old"\n');
  t.is(csvField('say "hi"'), '"say ""hi"""');
  t.is(csvField('two\nlines'), '"two\nlines"');
  t.is(csvField('cr\rhere'), '"cr\rhere"');
  t.is(csvField('plain text'), 'plain text');
  t.is(csvField(''), '');
});

test('columns match keys ignoring case, underscores, dashes and spaces', (t) => {
  t.is(render('value', volumes, noTable, ['size_gib', 'VOLUME-TYPE']), '20 \n1 gold\n');
  t.deepEqual(lookupColumn({ availabilityZone: 'nova' }, 'availability zone'), { found: true, value: 'nova' });
});

test("a mutation's result answers a column with its resource's field, or a dotted path", (t) => {
  t.is(render('value', payload, noTable, ['id']), 'v1\n', 'id is the volume\'s, not the operation\'s');
  t.is(render('value', payload, noTable, ['id', 'operation.id', 'operation.status']), 'v1 op1 RUNNING\n');
});

test('without -c, value and csv show every field of the objects (of the resource for a mutation)', (t) => {
  t.is(renderCsv(selectColumns([{ a: 1, b: 'x' }], [])), 'a,b\n1,x\n');
  t.deepEqual(selectColumns(payload, []).columns, ['id', 'name', 'status']);
  t.is(renderValue(selectColumns(payload, [])), 'v1 db CREATING\n');
});

test('an empty list prints nothing as value and only the header as csv', (t) => {
  t.is(render('value', [], noTable, ['id']), '');
  t.is(render('csv', [], noTable, ['id', 'name']), 'id,name\n');
});

test('an unknown column is a ColumnError naming the columns there are', (t) => {
  const err = t.throws(() => render('value', volumes, noTable, ['nope']), { instanceOf: ColumnError });
  t.is(err?.column, 'nope');
  t.regex(err?.message ?? '', /No column "nope" here; the columns are: id, name, status/);
});

test('-c with json or yaml keeps only those fields, in the order asked', (t) => {
  t.deepEqual(JSON.parse(render('json', volumes, noTable, ['status', 'id'])), [
    { status: 'AVAILABLE', id: 'v1' },
    { status: 'ERROR', id: 'v2' },
  ]);
  t.deepEqual(parseYaml(render('yaml', payload, noTable, ['id', 'operation.kind'])), { id: 'v1', 'operation.kind': 'create_volume' });
});

test('-c with the table format draws a table of those fields; one object as field/value lines', (t) => {
  t.is(render('table', volumes, noTable, ['id', 'volume_type']), 'ID  VOLUME_TYPE\n--  -----------\nv1  -\nv2  gold\n');
  t.is(render('table', payload, noTable, ['id', 'status']), 'FIELD   VALUE\n------  --------\nid      v1\nstatus  CREATING\n');
});

test('without -c, table, json and yaml are what they were', (t) => {
  t.is(render('table', volumes, noTable), 'TABLE\n');
  t.deepEqual(JSON.parse(render('json', volumes, noTable)), volumes);
  t.deepEqual(parseYaml(render('yaml', payload, noTable)), payload);
});
