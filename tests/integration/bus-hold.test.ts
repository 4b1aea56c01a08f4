/**
 * Deadlines are held while JetStream does not answer (src/gateway/sweepers/bus-watch.ts, the
 * rule in src/domain/bus-hold.ts): a killed nats-server makes the probe fail, which pushes
 * the deadlines of the young open operations past the outage, and the deadline sweeper
 * fails nothing until the bus answers again. Real nats-server (killed and restarted), SQLite
 * and PostgreSQL.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { connectBus, type Bus } from '../../src/bus/index.js';
import { createLogger } from '../../src/config/index.js';
import { findOperation, Operation, type Db } from '../../src/db/index.js';
import { HOLD_AT_MOST, holdMs } from '../../src/domain/bus-hold.js';
import type { LiveHub } from '../../src/gateway/live/hub.js';
import { BusWatch } from '../../src/gateway/sweepers/bus-watch.js';
import { startDeadlineSweeper } from '../../src/gateway/sweepers/deadlines.js';
import { BACKENDS, openDatabases, type Databases } from '../helpers/databases.js';
import { withNats } from '../helpers/nats.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { recordingDeps } from '../helpers/recording-deps.js';
import { waitUntil } from '../helpers/wait.js';
import type { NatsServerProcess } from '../../src/cli/dev/nats-server.js';

const TIMEOUT_S = 20;
const log = createLogger('bus-hold-test', 'silent');
let nats: NatsServerProcess;
let bus: Bus;
let dbs: Databases;

test.before(async () => {
  nats = await withNats();
  bus = await connectBus(nats.url, 'bus-hold-test');
  dbs = await openDatabases('flint-bus-hold-');
});

test.after.always(async () => {
  await bus?.close();
  await dbs?.close();
  await nats?.stop();
});

interface Spec {
  status?: 'pending' | 'running' | 'succeeded';
  createdAgoMs?: number;
  deadlineInMs?: number;
}

async function addOperation(db: Db, spec: Spec = {}): Promise<string> {
  const em = db.fork();
  const id = randomUUID();
  const now = Date.now();
  em.create(Operation, {
    id,
    projectId: 'p1',
    kind: 'delete_snapshot',
    resourceType: 'snapshot',
    resourceId: randomUUID(),
    status: spec.status ?? 'pending',
    command: { subject: 'flint.cmd.agent.h1.delete_snapshot', kind: 'test.hold', payload: { id }, msgId: id },
    createdAt: new Date(now - (spec.createdAgoMs ?? 10_000)),
    deadlineAt: new Date(now + (spec.deadlineInMs ?? -1_000)),
  });
  await em.flush();
  return id;
}

const deadlineOf = async (db: Db, id: string) => (await findOperation(db.fork(), id))!.deadlineAt!.getTime();

test.serial('a probe of a bus that answers changes no deadline', async (t) => {
  const db = dbs.get('sqlite');
  const id = await addOperation(db);
  const before = await deadlineOf(db, id);
  t.true(await new BusWatch(bus, db, log, TIMEOUT_S).check());
  t.is(await deadlineOf(db, id), before);
});

test.serial('while JetStream does not answer, young open operations are held and none fails; once it answers they run out again', async (t) => {
  const live = recordingDeps(dbs.get('sqlite')).deps.live as unknown as LiveHub;
  const ops = new Map<string, { overdue: string; old: string; done: string; later: string }>();
  for (const backend of BACKENDS) {
    const db = dbs.get(backend);
    ops.set(backend, {
      overdue: await addOperation(db),
      old: await addOperation(db, { createdAgoMs: (HOLD_AT_MOST * TIMEOUT_S + 5) * 1000 }),
      done: await addOperation(db, { status: 'succeeded' }),
      later: await addOperation(db, { deadlineInMs: 10 * 60_000 }),
    });
  }
  const watches = new Map(BACKENDS.map((b) => [b, new BusWatch(bus, dbs.get(b), log, TIMEOUT_S, 500)]));
  await nats.kill();
  try {
    for (const backend of BACKENDS) {
      const db = dbs.get(backend);
      const o = ops.get(backend)!;
      const before = { old: await deadlineOf(db, o.old), done: await deadlineOf(db, o.done), later: await deadlineOf(db, o.later) };
      const probedAt = Date.now();
      t.false(await watches.get(backend)!.check(probedAt), `${backend}: the probe finds the bus down`);
      const held = await deadlineOf(db, o.overdue);
      t.true(held >= probedAt + holdMs(TIMEOUT_S) - 50, `${backend}: the overdue operation gets ${holdMs(TIMEOUT_S)} ms from the probe`);
      t.is(await deadlineOf(db, o.old), before.old, `${backend}: an operation older than ${HOLD_AT_MOST} timeouts is not held`);
      t.is(await deadlineOf(db, o.done), before.done, `${backend}: an ended one is not touched`);
      t.is(await deadlineOf(db, o.later), before.later, `${backend}: a later deadline is never brought forward`);

      // The sweeper, asked while the bus is down, fails nothing, even an operation overdue meanwhile.
      await db.fork().nativeUpdate(Operation, { id: o.overdue }, { deadlineAt: new Date(Date.now() - 1_000) });
      const sweeper = startDeadlineSweeper(db, live, log, TIMEOUT_S, undefined, () => watches.get(backend)!.check());
      t.is(await sweeper.sweep(), 0, `${backend}: nothing fails while the bus is down`);
      sweeper.stop();
      t.is((await findOperation(db.fork(), o.overdue))?.status, 'pending');
      t.true((await deadlineOf(db, o.overdue)) > Date.now(), `${backend}: and its deadline is held again`);
    }
  } finally {
    await nats.restart();
  }
  for (const backend of BACKENDS) {
    const db = dbs.get(backend);
    const o = ops.get(backend)!;
    const watch = watches.get(backend)!;
    await waitUntil('JetStream answering again', () => watch.check(), (up) => up, 30_000);
    await db.fork().nativeUpdate(Operation, { id: o.overdue }, { deadlineAt: new Date(Date.now() - 1_000) });
    const sweeper = startDeadlineSweeper(db, live, log, TIMEOUT_S, undefined, () => watch.check());
    t.true((await sweeper.sweep()) >= 1, `${backend}: with the bus back, the overdue operation fails`);
    sweeper.stop();
    t.is((await findOperation(db.fork(), o.overdue))?.status, 'failed');
  }
});

test.after.always('no process is left behind', noProcessesLeft);
