/**
 * The outbox sweeper publishes each undispatched command on its own: one that cannot be
 * published does not hold back the others, and is published on a later sweep once it can
 * be. Real nats-server (JetStream), SQLite and PostgreSQL.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { Bus } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { Operation, type Db } from '../../src/db/index.js';
import { OutboxRetries, sweepOutbox } from '../../src/gateway/sweepers/outbox.js';
import { BACKENDS, type Databases } from '../helpers/databases.js';
import { withBusAndDatabases, type BusAndDatabases } from '../helpers/bus-and-databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

const log = createLogger('outbox-test', 'silent');
let dbs: Databases;
let bus: Bus;
let env: BusAndDatabases | undefined;

test.before(async () => {
  env = await withBusAndDatabases('outbox-test');
  ({ bus, dbs } = env);
});

test.after.always(() => env?.close());

async function addOperation(db: Db, subject: string, ageMs: number): Promise<string> {
  const em = db.fork();
  const id = randomUUID();
  em.create(Operation, {
    id,
    projectId: 'p1',
    kind: 'create_volume',
    resourceType: 'volume',
    resourceId: randomUUID(),
    command: { subject, kind: 'test.outbox', payload: { id }, msgId: `${id}:test` },
    createdAt: new Date(Date.now() - ageMs),
  });
  await em.flush();
  return id;
}

const dispatched = async (db: Db, id: string): Promise<boolean> =>
  (await db.fork().findOneOrFail(Operation, { id }, { disableIdentityMap: true })).dispatchedAt !== null;

for (const backend of BACKENDS) {
  test.serial(`a command that cannot be published does not stop the others, and goes out on a later sweep (${backend})`, async (t) => {
    const db = dbs.get(backend);
    const stream = `TEST_OUTBOX_${backend.toUpperCase()}`;
    const nowhere = `flint.test.${backend}.nostream`;
    // The oldest, so the sweep meets it first.
    const stuck = await addOperation(db, nowhere, 30_000);
    const a = await addOperation(db, `flint.cmd.scheduler.test_outbox_${backend}`, 20_000);
    const b = await addOperation(db, `flint.cmd.scheduler.test_outbox_${backend}`, 10_000);
    // A backoff far longer than this test, so a slow machine cannot see it run out early.
    const retries = new OutboxRetries(60_000, 120_000);

    t.is(await sweepOutbox(bus, db, log, retries), 2);
    t.true(await dispatched(db, a));
    t.true(await dispatched(db, b));
    t.false(await dispatched(db, stuck));
    t.deepEqual(retries.waiting(Date.now()), [stuck], 'it waits for its next try');

    // Within its backoff it is not even tried.
    t.is(await sweepOutbox(bus, db, log, retries), 0);

    // A stream takes its subject now: the next sweep after the backoff publishes it.
    await bus.jsm.streams.add({ name: stream, subjects: [nowhere], retention: RetentionPolicy.Limits, storage: StorageType.Memory });
    t.teardown(() => bus.jsm.streams.delete(stream).then(() => undefined));
    t.is(await sweepOutbox(bus, db, log, retries, { now: Date.now() + 61_000 }), 1);
    t.true(await dispatched(db, stuck));
    t.deepEqual(retries.waiting(Date.now() + 200_000), []);
    t.is((await bus.jsm.streams.info(stream)).state.messages, 1);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
