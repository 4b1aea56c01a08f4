/** checkManageReference (src/domain/manage-rules.ts): what manageVolume accepts as a reference before asking an agent. */
import test from 'ava';
import { checkManageReference } from '../../../src/domain/manage-rules.js';
import { Problems } from '../../../src/domain/volume-input.js';

function problems(reference: string | null): string[] {
  const p = new Problems();
  checkManageReference(p, reference);
  try {
    p.throwIfAny();
    return [];
  } catch (err) {
    return (err as { problems: string[] }).problems;
  }
}

test('plain file names are accepted, including a previously unmanaged volume', (t) => {
  for (const ok of ['legacy.raw', 'disk 1.qcow2', 'unmanaged-volume-0b7c.qcow2', 'volume-x.vmdk', 'a..b']) t.deepEqual(problems(ok), [], ok);
});

test('paths, hidden files, control characters and empty names are refused', (t) => {
  t.regex(problems(null)[0]!, /reference is required/);
  t.regex(problems('')[0]!, /reference is required/);
  for (const bad of ['../x.raw', 'a/b.raw', '/abs.raw', 'a\\b', '.', '..', 'x\ny']) t.regex(problems(bad)[0] ?? '', /plain file name/, bad);
  t.regex(problems('.volume-1.raw.tmp-ab')[0]!, /hidden/);
  t.regex(problems('x'.repeat(256))[0]!, /at most 255/);
});

test('a volume image name is refused as a Flint volume already', (t) => {
  t.regex(problems('volume-5f0e.qcow2')[0]!, /image of a Flint volume already/);
  t.regex(problems('volume-5f0e.raw')[0]!, /image of a Flint volume already/);
});
