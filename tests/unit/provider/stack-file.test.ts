import test from 'ava';
import { parseStackFile, STACK_VOLUME_FIELDS, StackFileError, type StackProblem } from '../../../src/provider/index.js';

function problems(text: string): StackProblem[] {
  const err = (() => {
    try {
      parseStackFile('stack.yaml', text);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof StackFileError)) throw new Error('the file was accepted');
  return [...err.problems];
}

test('a YAML stack file reads into its volumes', (t) => {
  const stack = parseStackFile(
    'stack.yaml',
    'stack: web\nvolumes:\n  db:\n    sizeGiB: 10\n    volumeType: bronze\n    metadata: { purpose: db }\n    description: the database\n    availabilityZone: nova\n',
  );
  t.deepEqual(stack, {
    stack: 'web',
    volumes: { db: { sizeGiB: 10, volumeType: 'bronze', metadata: { purpose: 'db' }, description: 'the database', availabilityZone: 'nova' } },
    snapshots: {},
    attachments: {},
  });
});

test('a JSON stack file reads the same way', (t) => {
  t.deepEqual(parseStackFile('stack.json', '{"stack": "web", "volumes": {"db": {"sizeGiB": 1}}}'), { stack: 'web', volumes: { db: { sizeGiB: 1 } }, snapshots: {}, attachments: {} });
});

test('the fields a stack file sets are the volume model\'s settable ones, less the key and the sources', (t) => {
  t.deepEqual([...STACK_VOLUME_FIELDS].sort(), ['availabilityZone', 'description', 'metadata', 'multiattach', 'name', 'sizeGiB', 'volumeType']);
});

test('a size out of the model\'s limits points at its line and column', (t) => {
  const [p] = problems('stack: web\nvolumes:\n  db:\n    sizeGiB: 70000\n');
  t.like(p, { line: 4, col: 14, path: 'volumes.db.sizeGiB' });
  t.regex(p!.message, /65536/, 'the limit is the model\'s (LIMITS.sizeMaxGiB)');
});

test('a missing size is reported at its volume, naming the field', (t) => {
  const [p] = problems('stack: web\nvolumes:\n  db:\n    description: x\n');
  t.like(p, { line: 4, col: 5, path: 'volumes.db.sizeGiB' });
  t.regex(p!.message, /^is required/);
});

test('an unknown field is reported at its key', (t) => {
  const [p] = problems('stack: web\nvolumes:\n  db:\n    sizeGiB: 1\n    colour: red\n');
  t.deepEqual(p, { line: 5, col: 5, path: 'volumes.db.colour', message: 'unknown field' });
});

test('a metadata key of Flint\'s reserved prefix is refused at the key', (t) => {
  const [p] = problems('stack: web\nvolumes:\n  db:\n    sizeGiB: 1\n    metadata:\n      ok: yes\n      flint.stack: other\n');
  t.like(p, { line: 7, col: 7, path: 'volumes.db.metadata.flint.stack' });
  t.regex(p!.message, /reserved for Flint/);
});

test('every problem is listed, in the order of the file, with file:line:col in the message', (t) => {
  const err = t.throws(() => parseStackFile('s.yaml', 'stack: "no spaces"\nvolumes:\n  db:\n    sizeGiB: 1\n    multiattach: maybe\n  "x y":\n    sizeGiB: 1\n'), { instanceOf: StackFileError });
  t.deepEqual(
    err!.problems.map((p) => [p.line, p.path]),
    [
      [1, 'stack'],
      [5, 'volumes.db.multiattach'],
      [6, 'volumes.x y'],
    ],
  );
  t.regex(err!.message, /^s\.yaml:1:8: stack: stack must be/m);
});

test('a YAML syntax error has its line', (t) => {
  const [p] = problems('stack: web\nvolumes:\n  db: [1\n  x: 2\n');
  t.like(p, { line: 4, col: 3, path: '' });
  t.notRegex(p!.message, /at line/, 'the place is said once, in front');
});

test('snapshots and attachments name a volume of the file: an unknown one is an error at its line', (t) => {
  const text = 'stack: web\nvolumes:\n  db: { sizeGiB: 1 }\nsnapshots:\n  s:\n    volume: dbb\nattachments:\n  a:\n    volume: db\n    instanceId: vm-1\n    connector: { host: compute-1, wwpn: x }\n';
  const ps = problems(text);
  t.deepEqual(
    ps.map((p) => [p.line, p.path]),
    [
      [6, 'snapshots.s.volume'],
      [11, 'attachments.a.connector.wwpn'],
    ],
  );
  t.regex(ps[0]!.message, /no volume "dbb" in this stack file \(it declares: db\)/);
});

test('a stack file with snapshots, attachments and a backup policy parses', (t) => {
  const stack = parseStackFile(
    's.yaml',
    'stack: web\nvolumes:\n  db:\n    sizeGiB: 1\n    backupPolicy: { every: 1d, keep: 7, incremental: true }\nsnapshots:\n  base: { volume: db, description: before }\nattachments:\n  vm1: { volume: db, instanceId: vm-1, connector: { host: compute-1 }, mode: RO }\n',
  );
  t.deepEqual(stack.volumes.db!.backupPolicy, { every: '1d', keep: 7, incremental: true });
  t.deepEqual(stack.snapshots, { base: { volume: 'db', description: 'before' } });
  t.deepEqual(stack.attachments, { vm1: { volume: 'db', instanceId: 'vm-1', connector: { host: 'compute-1' }, mode: 'RO' } });
});

test('a backup policy needs a period of a minute or more and a count to keep', (t) => {
  const ps = problems('stack: web\nvolumes:\n  db:\n    sizeGiB: 1\n    backupPolicy: { every: 30s, keep: 0 }\n');
  t.deepEqual(ps.map((p) => p.path), ['volumes.db.backupPolicy.every', 'volumes.db.backupPolicy.keep']);
  t.regex(ps[0]!.message, /every must be a duration of at least 1m/);
});
