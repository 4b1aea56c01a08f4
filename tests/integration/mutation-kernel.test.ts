/**
 * The mutation kernel (src/gateway/mutations/kernel.ts) against real databases (a SQLite file
 * and PostgreSQL) and a recording publisher instead of NATS: idempotent replay, refused
 * compare-and-sets, rollback, retries, announcements only after the commit, and the outbox.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { findVolume, Operation, Volume, type Db, type Principal } from '../../src/db/index.js';
import { FlintError } from '../../src/domain/index.js';
import { RETRY, runMutation, type MutationRules } from '../../src/gateway/mutations/kernel.js';
import { VolumeMutations } from '../../src/gateway/mutations/volume.js';
import { OutboxRetries, sweepOutbox } from '../../src/gateway/sweepers/outbox.js';
import { BACKENDS, openDatabases, type Backend, type Databases } from '../helpers/databases.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps as deps } from '../helpers/recording-deps.js';

let dbs: Databases;
test.before(async () => {
  dbs = await openDatabases('flint-kernel-');
});
test.after.always(async () => {
  await dbs?.close();
});

const member = (projectId = randomUUID()): Principal => ({ tokenId: randomUUID(), projectId, projectName: 'p', role: 'member' });

const operationsOf = (db: Db, resourceId: string) => db.fork().find(Operation, { resourceId }, { disableIdentityMap: true });
const until = async (cond: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 100 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 20));
};

for (const backend of BACKENDS as readonly Backend[]) {
  const db = () => dbs.get(backend);

  test(`a create with an idempotency key is answered again, and the same key with other parameters is a CONFLICT (${backend})`, async (t) => {
    const { deps: d, rec } = deps(db());
    const volumes = new VolumeMutations(d);
    const p = member();
    const first = await volumes.create(p, { name: 'v', sizeGiB: 1, idempotencyKey: 'k1' });
    const again = await volumes.create(p, { name: 'v', sizeGiB: 1, idempotencyKey: 'k1' });
    t.is(again.volume.id, first.volume.id);
    t.is(again.operation.id, first.operation.id);
    t.is((await db().fork().find(Volume, { projectId: p.projectId })).length, 1);
    const other = await t.throwsAsync(volumes.create(p, { name: 'v', sizeGiB: 2, idempotencyKey: 'k1' }));
    t.is((other as FlintError).code, 'CONFLICT');
    t.regex(other!.message, /already used for volume .* with other parameters/);
    // The replay published nothing more: one create, one command.
    await until(() => rec.published.length >= 1);
    t.is(rec.published.length, 1);
    t.is(rec.live.filter((e) => e.what === 'volume').length, 1);
  });

  test(`two creates racing with one key both answer with the one volume (${backend})`, async (t) => {
    const { deps: d } = deps(db());
    const volumes = new VolumeMutations(d);
    const p = member();
    const results = await Promise.all(Array.from({ length: 4 }, () => volumes.create(p, { name: 'race', sizeGiB: 1, idempotencyKey: 'same' })));
    t.is(new Set(results.map((r) => r.volume.id)).size, 1);
    t.is((await db().fork().find(Volume, { projectId: p.projectId })).length, 1);
    t.is((await operationsOf(db(), results[0]!.volume.id)).length, 1);
  });

  test(`a refused compare-and-set writes nothing, announces nothing and says why (${backend})`, async (t) => {
    const { deps: d, rec } = deps(db());
    const volumes = new VolumeMutations(d);
    const p = member();
    const { volume } = await volumes.create(p, { name: 'v', sizeGiB: 1 });
    const before = rec.live.length;
    const err = await t.throwsAsync(volumes.update(p, { id: volume.id, name: 'renamed', expectedVersion: volume.version + 5 }));
    t.is((err as FlintError).code, 'CONFLICT');
    t.regex(err!.message, /not the expected/);
    const now = await findVolume(db().fork(), volume.id);
    t.is(now!.name, 'v');
    t.is(now!.version, volume.version);
    t.deepEqual((await operationsOf(db(), volume.id)).map((o) => o.kind), ['create_volume']);
    t.is(rec.live.length, before);
  });

  test(`a failure inside the transaction rolls back the row and its operation (${backend})`, async (t) => {
    const { deps: d, rec } = deps(db());
    const id = randomUUID();
    const rules: MutationRules<null, Volume, Volume> = {
      kind: 'create_volume',
      resourceType: 'volume',
      authorize: (p) => p!,
      load: async () => null,
      transition: async (tx) => tx.create(Volume, { id, projectId: 'p', name: 'x', sizeGiB: 1, status: 'creating', availabilityZone: 'nova', metadata: {} }),
      operation: (v) => ({ projectId: v.projectId, resourceId: v.id, command: { subject: 'flint.cmd.scheduler.create_volume', kind: 'k', payload: {}, msgId: 'm' } }),
      alsoRecord: () => {
        throw new FlintError('INTERNAL', 'the audit row could not be written');
      },
      announce: (dd, v) => dd.live.publish('CREATED', v),
      result: (v) => v,
    };
    await t.throwsAsync(runMutation(d, member(), rules), { message: /audit row/ });
    t.is(await findVolume(db().fork(), id), null);
    t.is((await operationsOf(db(), id)).length, 0);
    t.is(rec.live.length, 0);
    t.is(rec.published.length, 0);
  });

  test(`RETRY loads again and tries again, up to the attempts, then is a CONFLICT (${backend})`, async (t) => {
    const { deps: d } = deps(db());
    let loads = 0;
    let tries = 0;
    const rules = (succeedOn: number): MutationRules<number, { n: number }, number> => ({
      resourceType: 'volume',
      authorize: (p) => p!,
      load: async () => ++loads,
      transition: async () => (++tries >= succeedOn ? { n: tries } : null),
      whyNot: async () => RETRY,
      attempts: 3,
      announce: () => undefined,
      result: (c) => c.n,
    });
    t.is(await runMutation(d, member(), rules(3)), 3);
    t.is(loads, 3);
    loads = tries = 0;
    const err = await t.throwsAsync(runMutation(d, member(), rules(10)));
    t.is((err as FlintError).code, 'CONFLICT');
    t.is(tries, 3);
  });

  test(`the change is announced after its commit, and its command goes out with its message id (${backend})`, async (t) => {
    const { deps: d, rec } = deps(db());
    const { volume, operation } = await new VolumeMutations(d).create(member(), { name: 'v', sizeGiB: 1 });
    await rec.settled();
    t.deepEqual(rec.live.map((e) => e.what), ['volume', 'operation']);
    t.true(rec.live[0]!.committed, 'the volume was readable from another connection when it was announced');
    await until(async () => (await operationsOf(db(), volume.id))[0]?.dispatchedAt !== null);
    t.deepEqual(rec.published, [{ subject: 'flint.cmd.scheduler.create_volume', msgId: `${operation.id}:schedule:1` }]);
  });

  test(`a command that could not be published stays in the outbox and the sweeper sends it (${backend})`, async (t) => {
    const { deps: d, rec, setFail } = deps(db(), { failPublish: true });
    const { volume, operation } = await new VolumeMutations(d).create(member(), { name: 'v', sizeGiB: 1 });
    // The mutation succeeded although NATS is down: its intent is in the database.
    t.is(volume.status, 'creating');
    await new Promise((r) => setTimeout(r, 100));
    t.is((await operationsOf(db(), volume.id))[0]!.dispatchedAt, null);
    setFail(false);
    await sweepOutbox(d.bus, db(), d.log, new OutboxRetries(), { graceMs: 0 });
    t.true(rec.published.some((m) => m.msgId === `${operation.id}:schedule:1`));
    t.not((await operationsOf(db(), volume.id))[0]!.dispatchedAt, null);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
