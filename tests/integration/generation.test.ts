/**
 * A volume's and a snapshot's `generation` against real databases (a SQLite file and
 * PostgreSQL): it moves when a field the user sets takes a new value, through the mutations
 * and through the event recorder (an extension that succeeded), while `version` moves on every
 * change; a status move, a placement, the same name again and a managed image's measured size
 * leave it.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { casSnapshot, casVolume, findSnapshot, findVolume, Operation, Volume, type Principal } from '../../src/db/index.js';
import { createLogger } from '../../src/config/index.js';
import type { LiveHub } from '../../src/gateway/live/hub.js';
import { SnapshotMutations } from '../../src/gateway/mutations/snapshot.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { applyVolumeOutcome } from '../../src/gateway/outcomes/volume.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-generation-');
});
test.after.always(async () => {
  await dbs?.close();
});

const member = (projectId = randomUUID()): Principal => ({ tokenId: randomUUID(), projectId, projectName: 'p', role: 'member' });
const log = createLogger('generation-test', 'silent');

for (const backend of BACKENDS as readonly Backend[]) {
  const db = () => dbs.get(backend);

  /** A volume as the recorder leaves it once created: AVAILABLE on a pool. */
  async function availableVolume(d: ReturnType<typeof recordingDeps>['deps'], p: Principal, metadata: Record<string, string> = {}): Promise<Volume> {
    const { volume } = await new VolumeMutations(d).create(p, { name: 'v', sizeGiB: 1, metadata });
    return (await casVolume(db().fork(), volume.id, { from: ['creating'] }, { status: 'available', host: 'h1', pool: 'p1' }))!;
  }

  test(`a new volume is at generation 1; a rename moves generation and version; the same name again moves neither (${backend})`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const p = member();
    const created = (await new VolumeMutations(d).create(p, { name: 'n', sizeGiB: 1 })).volume;
    t.deepEqual([created.generation, created.version], [1, 1]);
    t.is((await findVolume(db().fork(), created.id))!.generation, 1);
    const v = await availableVolume(d, p, { app: 'pg', tier: 'gold' });
    t.is(v.generation, 1, 'placing it was no change of the user');
    t.is(v.version, 2);
    const volumes = new VolumeMutations(d);
    const renamed = (await volumes.update(p, { id: v.id, name: 'db' })).volume;
    t.deepEqual([renamed.generation, renamed.version], [2, 3]);
    // The values it has (metadata in another order): nothing to record.
    const same = await volumes.update(p, { id: v.id, name: 'db', metadata: { tier: 'gold', app: 'pg' } });
    t.deepEqual([same.volume.generation, same.volume.version, same.operation], [2, 3, null]);
    const described = (await volumes.update(p, { id: v.id, description: 'orders', expectedVersion: 3 })).volume;
    t.deepEqual([described.generation, described.version], [3, 4]);
  });

  test(`an extension moves the generation once it succeeds; the request and the status moves move only the version (${backend})`, async (t) => {
    const { deps: d, rec } = recordingDeps(db());
    const p = member();
    const v = await availableVolume(d, p);
    const { volume: extending, operation } = await new VolumeMutations(d).extend(p, { id: v.id, newSizeGiB: 2 });
    t.is(extending.status, 'extending');
    t.deepEqual([extending.generation, extending.version], [1, 3]);
    await applyVolumeOutcome(db(), d.live as unknown as LiveHub, log, { operationId: operation!.id, volumeId: v.id, outcome: 'extend.succeeded', sizeGiB: 2 });
    const extended = (await findVolume(db().fork(), v.id))!;
    t.is(extended.status, 'available');
    t.is(extended.sizeGiB, 2);
    t.deepEqual([extended.generation, extended.version], [2, 4]);
    t.is((await db().fork().findOne(Operation, { id: operation!.id }, { disableIdentityMap: true }))!.status, 'succeeded');
    t.true(rec.live.some((e) => e.what === 'volume' && e.id === v.id));
  });

  test(`a status-only change (attaching and detaching) moves the version, not the generation (${backend})`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const v = await availableVolume(d, member());
    const em = db().fork();
    const attaching = (await casVolume(em, v.id, { from: ['available'] }, { status: 'attaching' }))!;
    const inUse = (await casVolume(em, v.id, { from: ['attaching'] }, { status: 'in_use' }))!;
    const detached = (await casVolume(em, v.id, { from: ['in_use'] }, { status: 'available' }))!;
    t.deepEqual(
      [attaching, inUse, detached].map((x) => [x.generation, x.version]),
      [
        [1, 3],
        [1, 4],
        [1, 5],
      ],
    );
  });

  test(`taking a snapshot moves the volume's version, not its generation; renaming the snapshot moves the snapshot's (${backend})`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const p = member();
    const v = await availableVolume(d, p);
    const snapshots = new SnapshotMutations(d);
    const { snapshot } = await snapshots.create(p, { volumeId: v.id, name: 's' });
    const after = (await findVolume(db().fork(), v.id))!;
    t.deepEqual([after.generation, after.version], [1, 3]);
    t.deepEqual([snapshot.generation, snapshot.version], [1, 1]);
    const taken = (await casSnapshot(db().fork(), snapshot.id, { from: ['creating'] }, { status: 'available' }))!;
    t.deepEqual([taken.generation, taken.version], [1, 2]);
    const renamed = (await snapshots.update(p, { id: snapshot.id, name: 's2' })).snapshot;
    t.deepEqual([renamed.generation, renamed.version], [2, 3]);
    // The name it has: nothing to record (issue 16's no-op updates).
    const unchanged = await snapshots.update(p, { id: snapshot.id, name: 's2' });
    t.deepEqual([unchanged.snapshot.generation, unchanged.snapshot.version, unchanged.operation], [2, 3, null]);
    t.is((await findSnapshot(db().fork(), snapshot.id))!.generation, 2);
  });

  test(`a retype that succeeds moves the generation; a managed image's measured size does not (${backend})`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const v = await availableVolume(d, member());
    const em = db().fork();
    await casVolume(em, v.id, { from: ['available'] }, { status: 'retyping', pendingVolumeType: 'gold' });
    const retyped = (await casVolume(em, v.id, { from: ['retyping'] }, { status: 'available', volumeType: 'gold', pendingVolumeType: null }))!;
    t.deepEqual([retyped.generation, retyped.version], [2, 4]);
    const measured = (await casVolume(em, v.id, { from: ['available'] }, { sizeGiB: 7 }, { observed: true }))!;
    t.deepEqual([measured.sizeGiB, measured.generation, measured.version], [7, 2, 5]);
  });

  test(`a guard that fails applies nothing, whether or not the change names a user field (${backend})`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const v = await availableVolume(d, member());
    const em = db().fork();
    t.is(await casVolume(em, v.id, { from: ['in_use'] }, { name: 'x' }), null);
    t.is(await casVolume(em, v.id, { from: ['available'], expectedVersion: 1 }, { name: 'x' }), null);
    t.is(await casVolume(em, randomUUID(), { from: ['available'] }, { name: 'x' }), null);
    const now = (await findVolume(em, v.id))!;
    t.deepEqual([now.name, now.generation, now.version], ['v', 1, 2]);
    const ok = (await casVolume(em, v.id, { from: ['available'], expectedVersion: 2 }, { name: 'x' }))!;
    t.deepEqual([ok.name, ok.generation, ok.version], ['x', 2, 3]);
  });

  test(`concurrent renames each count: no change is lost from the generation (${backend})`, async (t) => {
    const { deps: d } = recordingDeps(db());
    const v = await availableVolume(d, member());
    const names = ['a', 'b', 'c', 'd', 'e'];
    const results = await Promise.all(names.map((name) => db().fork().transactional((tx) => casVolume(tx, v.id, { from: ['available'] }, { name }))));
    t.true(results.every((r) => r !== null));
    const now = (await findVolume(db().fork(), v.id))!;
    t.is(now.version, 2 + names.length);
    t.is(now.generation, 1 + names.length, 'each rename gave the name a new value when it applied');
  });
}

test.after.always('no process is left behind', noProcessesLeft);
