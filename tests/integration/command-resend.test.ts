/**
 * A command with no answer is sent again (src/gateway/sweepers/resend.ts): one message per
 * round under a new message id, whichever gateways send it, only while its operation is
 * PENDING and only for kinds whose handlers are idempotent. Real nats-server (JetStream),
 * SQLite and PostgreSQL.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { decodeEnvelope, STREAM_CMD, type Bus } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { Operation, type Db } from '../../src/db/index.js';
import type { OperationKind } from '../../src/domain/operations.js';
import { CommandResender } from '../../src/gateway/sweepers/resend.js';
import { BACKENDS, type Databases } from '../helpers/databases.js';
import { withBusAndDatabases, type BusAndDatabases } from '../helpers/bus-and-databases.js';
import { noProcessesLeft } from '../helpers/processes.js';

const log = createLogger('resend-test', 'silent');
const EVERY_MS = 15_000;
let dbs: Databases;
let bus: Bus;
let env: BusAndDatabases | undefined;

test.before(async () => {
  env = await withBusAndDatabases('resend-test');
  ({ bus, dbs } = env);
});

test.after.always(() => env?.close());

interface Spec {
  kind?: OperationKind;
  status?: 'pending' | 'running' | 'failed';
  /** How long ago the command went out; null: never. */
  dispatchedAgoMs?: number | null;
}

async function addOperation(db: Db, subject: string, spec: Spec = {}): Promise<string> {
  const em = db.fork();
  const id = randomUUID();
  const ago = spec.dispatchedAgoMs === undefined ? EVERY_MS + 2_000 : spec.dispatchedAgoMs;
  em.create(Operation, {
    id,
    projectId: 'p1',
    kind: spec.kind ?? 'delete_volume',
    resourceType: 'volume',
    resourceId: randomUUID(),
    status: spec.status ?? 'pending',
    command: { subject, kind: 'test.resend', payload: { id }, msgId: `${id}:agent.delete` },
    dispatchedAt: ago === null ? null : new Date(Date.now() - ago),
    createdAt: new Date(Date.now() - 30_000),
  });
  await em.flush();
  return id;
}

for (const backend of BACKENDS) {
  test.serial(`a PENDING agent command with no answer goes out again once per round, whichever gateway sends it (${backend})`, async (t) => {
    const db = dbs.get(backend);
    const subject = `flint.cmd.agent.resend-${backend}.delete_volume`;
    /** The copies in FLINT_CMD of this test's subject, and their message ids. */
    const copies = async () => (await bus.jsm.streams.info(STREAM_CMD, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    const lastId = async () => (await bus.jsm.streams.getMessage(STREAM_CMD, { last_by_subj: subject }))!;
    const id = await addOperation(db, subject);
    // Not to be sent again: answered, sent too recently, never sent (the outbox's work), long work with its own progress, a scheduler's.
    await addOperation(db, subject, { status: 'failed' });
    await addOperation(db, subject, { status: 'running' });
    const recent = await addOperation(db, subject, { dispatchedAgoMs: 3_000 });
    await addOperation(db, subject, { dispatchedAgoMs: null });
    await addOperation(db, subject, { kind: 'create_backup' });
    await addOperation(db, subject, { kind: 'migrate_volume' });
    await addOperation(db, 'flint.cmd.scheduler.create_volume', { kind: 'create_volume' });

    const a = new CommandResender(bus, db, log, EVERY_MS);
    const b = new CommandResender(bus, db, log, EVERY_MS);
    const now = Date.now();
    t.is(await a.sweep(now), 1);
    t.is(await copies(), 1);
    const first = await lastId();
    t.is(first.header?.get('Nats-Msg-Id'), `${id}:agent.delete:again:1`);
    t.like(decodeEnvelope(first.data), { kind: 'test.resend', payload: { id } }, 'the same command');
    t.is(await a.sweep(now + 1_000), 0, 'one round, one send');
    t.is(await b.sweep(now + 1_000), 1, 'the other gateway sends round 1 too…');
    t.is(await copies(), 1, '…which JetStream drops as the same message');
    // 15 s on, the first is due its round 2, and the one sent 3 s before the first sweep its round 1.
    t.is(await a.sweep(now + EVERY_MS), 2, 'the next round');
    t.is(await copies(), 3);

    await db.fork().nativeUpdate(Operation, { id: { $in: [id, recent] } }, { status: 'succeeded' });
    t.is(await a.sweep(now + 3 * EVERY_MS), 0, 'an answered operation is left alone');
    await bus.jsm.streams.purge(STREAM_CMD, { filter: subject });
  });
}

for (const backend of BACKENDS) {
  test.serial(`from the second silent round the consumer that takes the command is asked for a new leader, once per round (${backend})`, async (t) => {
    const db = dbs.get(backend);
    const host = `resend-${backend}`;
    const asked: string[] = [];
    const watch = bus.nc.subscribe('$JS.API.CONSUMER.LEADER.STEPDOWN.>', { callback: (_err, m) => void asked.push(m.subject) });
    t.teardown(() => watch.unsubscribe());
    const second = await addOperation(db, `flint.cmd.agent.${host}.delete_volume`, { dispatchedAgoMs: 2 * EVERY_MS + 2_000 });
    await addOperation(db, `flint.cmd.agent.${host}-first.delete_volume`);
    const resender = new CommandResender(bus, db, log, EVERY_MS);
    const now = Date.now();
    t.is(await resender.sweep(now), 2);
    await bus.nc.flush();
    t.deepEqual(asked, [`$JS.API.CONSUMER.LEADER.STEPDOWN.FLINT_CMD.agent-${host}`], 'only the consumer whose command is silent for two rounds');
    t.is(await resender.sweep(now + 1_000), 0);
    await bus.nc.flush();
    t.is(asked.length, 1, 'once per round');
    await db.fork().nativeUpdate(Operation, { id: second }, { status: 'succeeded' });
  });
}

test.after.always('no process is left behind', noProcessesLeft);
