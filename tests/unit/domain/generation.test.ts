/** Which changes move a resource's generation (src/domain/generation.ts): a user field with a new value, nothing else. */
import test from 'ava';
import { movesGeneration, namesUserField, sameValue, SNAPSHOT_USER_FIELDS, VOLUME_USER_FIELDS } from '../../../src/domain/generation.js';

interface V {
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  sizeGiB: number;
  volumeType: string | null;
  multiattach: boolean;
  status: string;
  host: string | null;
  projectId: string;
}
const before: V = { name: 'db', description: null, metadata: { app: 'pg', tier: 'gold' }, sizeGiB: 10, volumeType: 'fast', multiattach: false, status: 'available', host: 'a', projectId: 'p1' };
const moves = (changes: Partial<V>) => movesGeneration<V>(VOLUME_USER_FIELDS, before, changes);

test('a new value of a field the user sets moves the generation', (t) => {
  t.true(moves({ name: 'db2' }));
  t.true(moves({ description: 'orders' }));
  t.true(moves({ metadata: { app: 'pg' } }));
  t.true(moves({ sizeGiB: 20 }));
  t.true(moves({ volumeType: 'slow' }));
  t.true(moves({ volumeType: null }));
  t.true(moves({ multiattach: true }));
  t.true(moves({ status: 'extending', sizeGiB: 20 }));
});

test('a status move, a placement or a new project does not move it', (t) => {
  t.false(moves({}));
  t.false(moves({ status: 'in_use' }));
  t.false(moves({ host: 'b', status: 'available' }));
  t.false(moves({ projectId: 'p2' }));
});

test('the same value again does not move it: metadata compares by content, not key order', (t) => {
  t.false(moves({ name: 'db' }));
  t.false(moves({ description: null }));
  t.false(moves({ metadata: { tier: 'gold', app: 'pg' } }));
  t.false(moves({ sizeGiB: 10, volumeType: 'fast', multiattach: false }));
});

test('namesUserField tells whether the row has to be read at all', (t) => {
  t.false(namesUserField<V>(VOLUME_USER_FIELDS, { status: 'deleting' }));
  t.false(namesUserField<V>(VOLUME_USER_FIELDS, { name: undefined, status: 'deleting' }));
  t.true(namesUserField<V>(VOLUME_USER_FIELDS, { name: 'db' }));
  t.true(namesUserField<V>(VOLUME_USER_FIELDS, { description: null }));
});

test('a snapshot counts its name, description and metadata only', (t) => {
  const s: { name: string; description: string | null; metadata: Record<string, string>; status: string; sizeGiB: number } = {
    name: 's',
    description: 'x',
    metadata: { app: 'pg', tier: 'gold' },
    status: 'creating',
    sizeGiB: 1,
  };
  t.true(movesGeneration(SNAPSHOT_USER_FIELDS, s, { description: null }));
  t.true(movesGeneration(SNAPSHOT_USER_FIELDS, s, { metadata: { app: 'pg' } }));
  t.false(movesGeneration(SNAPSHOT_USER_FIELDS, s, { status: 'available' }));
  t.false(movesGeneration(SNAPSHOT_USER_FIELDS, s, { name: 's' }));
  t.false(movesGeneration(SNAPSHOT_USER_FIELDS, s, { metadata: { tier: 'gold', app: 'pg' } }));
});

test('sameValue: content equality of scalars, null, objects and arrays', (t) => {
  t.true(sameValue({ a: '1', b: '2' }, { b: '2', a: '1' }));
  t.false(sameValue({ a: '1' }, { a: '1', b: '2' }));
  t.false(sameValue({ a: '1', b: undefined }, { a: '1', c: undefined }));
  t.false(sameValue(null, {}));
  t.false(sameValue([], {}));
  t.true(sameValue(['a', 'b'], ['a', 'b']));
  t.false(sameValue(1, '1'));
});
