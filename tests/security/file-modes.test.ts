/**
 * Flint's files are its user's only: the data dir 0700, the SQLite database and its
 * -wal/-shm 0600, when created and when found wider (then tightened and logged). Real
 * files, a real SQLite database, the real CLI.
 */
import test from 'ava';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, type PermissionNote } from '../../src/config/index.js';
import { openDb } from '../../src/db/index.js';
import { runFlint } from '../helpers/flint-cli.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

const mode = (p: string): number => statSync(p).mode & 0o7777;

test('a new data dir is created 0700, even under a permissive umask', async (t) => {
  const tmp = await tempDir();
  t.teardown(() => tmp.cleanup());
  const dir = join(tmp.path, 'a', 'data');
  const old = process.umask(0);
  try {
    const notes: PermissionNote[] = [];
    t.true(ensurePrivateDir(dir, { create: true }, (n) => notes.push(n)));
    t.is(mode(dir), 0o700);
    t.like(notes[0], { path: dir, action: 'created', to: '0700' });
  } finally {
    process.umask(old);
  }
});

test('an existing data dir with a wider mode is tightened to 0700 and the change is reported', async (t) => {
  const tmp = await tempDir();
  t.teardown(() => tmp.cleanup());
  chmodSync(tmp.path, 0o755);
  const notes: PermissionNote[] = [];
  ensurePrivateDir(tmp.path, { create: false }, (n) => notes.push(n));
  t.is(mode(tmp.path), 0o700);
  t.deepEqual(notes, [{ path: tmp.path, action: 'tightened', from: '0755', to: '0700' }]);
});

test('a shared sticky directory (like /tmp) is left as it is and reported', async (t) => {
  const tmp = await tempDir();
  t.teardown(() => tmp.cleanup());
  chmodSync(tmp.path, 0o1777);
  const notes: PermissionNote[] = [];
  ensurePrivateDir(tmp.path, { create: false }, (n) => notes.push(n));
  t.is(mode(tmp.path), 0o1777);
  t.like(notes[0], { action: 'left', from: '0777' });
});

test('a new SQLite database and its -wal and -shm files are 0600', async (t) => {
  const tmp = await tempDir();
  t.teardown(() => tmp.cleanup());
  const file = join(tmp.path, 'db', 'flint.sqlite');
  const old = process.umask(0o022);
  let db;
  try {
    db = await openDb({ kind: 'sqlite', path: file });
  } finally {
    process.umask(old);
  }
  t.teardown(() => db.close());
  await db.migrate();
  t.is(mode(join(tmp.path, 'db')), 0o700, 'a directory made for it is private');
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    t.true(existsSync(f), f);
    t.is(mode(f), 0o600, f);
  }
});

test('an existing SQLite database with -wal and -shm at 0644 is tightened to 0600 and the change is logged', async (t) => {
  const tmp = await tempDir();
  t.teardown(() => tmp.cleanup());
  const file = join(tmp.path, 'flint.sqlite');
  const first = await openDb({ kind: 'sqlite', path: file });
  await first.migrate();
  await first.close();
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (!existsSync(f)) writeFileSync(f, '');
    chmodSync(f, 0o644);
  }
  const lines: Array<Record<string, unknown>> = [];
  const log = { info: () => undefined, warn: (o: Record<string, unknown>) => void lines.push(o) };
  const db = await openDb({ kind: 'sqlite', path: file }, { log });
  t.teardown(() => db.close());
  for (const f of [file, `${file}-wal`, `${file}-shm`]) t.is(mode(f), 0o600, f);
  t.true(lines.some((l) => l.path === file && l.action === 'tightened' && l.from === '0644'));
});

test('the CLI makes a new data dir 0700 and its database 0600, and tightens old ones, saying so in its log', async (t) => {
  const tmp = await tempDir();
  t.teardown(() => tmp.cleanup());
  const data = join(tmp.path, 'flint-data');
  const env = { FLINT_DATA_DIR: data, FLINT_LOG_LEVEL: 'info' };
  const made = await runFlint({ cwd: tmp.path, url: '', token: '' }, ['token', 'create', '--project', 'p1'], env);
  t.is(made.status, 0, made.stderr);
  t.is(mode(data), 0o700);
  t.is(mode(join(data, 'flint.sqlite')), 0o600);

  chmodSync(data, 0o755);
  chmodSync(join(data, 'flint.sqlite'), 0o644);
  const again = await runFlint({ cwd: tmp.path, url: '', token: '' }, ['token', 'list'], env);
  t.is(again.status, 0, again.stderr);
  t.is(mode(data), 0o700);
  t.is(mode(join(data, 'flint.sqlite')), 0o600);
  const tightened = again.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.action === 'tightened')
    .map((l) => [l.path, l.from, l.to]);
  t.deepEqual(tightened, [
    [data, '0755', '0700'],
    [join(data, 'flint.sqlite'), '0644', '0600'],
  ]);
});

test.after.always('no process is left behind', noProcessesLeft);
