import test from 'ava';
import { promises as fs } from 'node:fs';
import { FileOutcomeStore, type RecordedMessage } from '../../../src/node-agent/index.js';
import { tempDir } from '../../helpers/tmp.js';

const message: RecordedMessage = { subject: 'flint.evt.volume.v1', kind: 'volume.outcome', payload: { a: 1 }, msgId: 'op1:x:1' };

test('a recorded message is found again by a new store on the same directory', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  await new FileOutcomeStore(dir.path).put('op1', 1, message);
  const again = new FileOutcomeStore(dir.path);
  t.deepEqual(await again.get('op1', 1), message);
  t.is(await again.get('op1', 2), undefined, 'another attempt is another record');
  t.is(await again.get('op2', 1), undefined);
  t.deepEqual(await fs.readdir(dir.path), ['op1.json'], 'one file per operation, no temporaries left');
});

test('attempts of one operation are kept side by side', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const store = new FileOutcomeStore(dir.path);
  await store.put('op1', 1, message);
  await store.put('op1', 2, { ...message, msgId: 'op1:x:2' });
  t.is((await store.get('op1', 1))?.msgId, 'op1:x:1');
  t.is((await store.get('op1', 2))?.msgId, 'op1:x:2');
});

test('an operation id that is not a safe file name is stored under its hash inside the directory', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const store = new FileOutcomeStore(dir.path);
  await store.put('../../etc/op 1', 1, message);
  t.deepEqual(await store.get('../../etc/op 1', 1), message);
  const files = await fs.readdir(dir.path);
  t.is(files.length, 1);
  t.regex(files[0]!, /^[0-9a-f]{64}\.json$/);
});

test('prune removes only records older than the retention', async (t) => {
  const dir = await tempDir();
  t.teardown(dir.cleanup);
  const store = new FileOutcomeStore(dir.path);
  await store.put('old', 1, message);
  await store.put('new', 1, message);
  const tenDaysAgo = new Date(Date.now() - 10 * 24 * 3600_000);
  await fs.utimes(store.pathOf('old'), tenDaysAgo, tenDaysAgo);
  t.is(await store.prune(), 1);
  t.is(await store.get('old', 1), undefined);
  t.deepEqual(await store.get('new', 1), message);
});
