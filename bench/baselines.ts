/**
 * Floors to compare Flint's create latency with, measured on the same machine in the
 * same run: a core NATS request-reply round trip, a JetStream publish with its ack,
 * and a single-row insert+commit in SQLite (the pragmas of src/db/orm.ts) and,
 * when the run uses it, PostgreSQL.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { startNatsServer } from '../src/cli/dev/nats-server.js';
import { tempDir } from '../tests/helpers/tmp.js';
import type { Cleanup } from './cleanup.js';

const WARMUP = 50;

// better-sqlite3 ships no type declarations and this project has none for it: the
// few calls used here, typed by hand.
interface SqliteDb {
  readonly open: boolean;
  pragma(sql: string): unknown;
  exec(sql: string): unknown;
  prepare(sql: string): { run(...params: unknown[]): unknown };
  transaction<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => unknown;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => SqliteDb;

export async function sample(n: number, op: () => Promise<unknown> | unknown): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await op();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op();
    out.push(performance.now() - t0);
  }
  return out;
}

export interface NatsBaselines {
  natsRtt: number[];
  jsPublish: number[];
}

/** Own nats-server (never the one on 4222), a responder and a requester on two connections. */
export async function natsBaselines(n: number, cleanup: Cleanup): Promise<NatsBaselines> {
  const store = await tempDir('flint-bench-nats-');
  cleanup.add('nats baseline store', () => store.cleanup());
  const server = await startNatsServer({ storeDir: store.path });
  cleanup.add('nats baseline server', () => server.stop());
  const responder = await connect({ servers: server.url, name: 'bench-responder' });
  cleanup.add('nats responder', () => responder.close());
  const requester = await connect({ servers: server.url, name: 'bench-requester' });
  cleanup.add('nats requester', () => requester.close());

  responder.subscribe('bench.echo', { callback: (_err, msg) => void msg.respond(msg.data) });
  await responder.flush();
  const payload = new TextEncoder().encode(JSON.stringify({ v: 1, id: 'x'.repeat(26), kind: 'bench', at: new Date().toISOString(), payload: {} }));
  const natsRtt = await sample(n, () => requester.request('bench.echo', payload, { timeout: 5000 }));

  const jsm = await jetstreamManager(requester);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.js.>'], storage: StorageType.File });
  const js = jetstream(requester);
  const jsPublish = await sample(n, () => js.publish('bench.js.x', payload));
  return { natsRtt, jsPublish };
}

/** better-sqlite3 directly, WAL + synchronous=NORMAL + busy_timeout, one row per transaction. */
export async function sqliteCommit(n: number, cleanup: Cleanup): Promise<number[]> {
  const dir = await tempDir('flint-bench-sqlite-');
  cleanup.add('sqlite baseline dir', () => dir.cleanup());
  const db = new Database(join(dir.path, 'bench.sqlite'));
  cleanup.add('sqlite baseline db', () => {
    if (db.open) db.close();
  });
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('synchronous = NORMAL');
  db.exec('create table t (id text primary key, status text not null, size_gib integer not null, created_at text not null)');
  const insert = db.prepare('insert into t (id, status, size_gib, created_at) values (?, ?, ?, ?)');
  const tx = db.transaction((id: string) => insert.run(id, 'creating', 1, new Date().toISOString()));
  let i = 0;
  const samples = await sample(n, () => tx(`vol-${i++}`));
  db.close();
  return samples;
}

/** A plain `pg` client on a throw-away database: BEGIN; INSERT; COMMIT per sample. */
export async function postgresCommit(n: number, cleanup: Cleanup): Promise<number[]> {
  const { createTempDatabase } = await import('../tests/helpers/postgres.js');
  const { default: pg } = await import('pg');
  const tmp = await createTempDatabase();
  cleanup.add('pg baseline database', () => tmp.drop());
  const client = new pg.Client({ connectionString: tmp.url });
  client.on('error', () => undefined);
  await client.connect();
  cleanup.add('pg baseline client', () => client.end());
  await client.query('create table t (id text primary key, status text not null, size_gib integer not null, created_at timestamptz not null)');
  let i = 0;
  const samples = await sample(n, async () => {
    await client.query('begin');
    await client.query('insert into t (id, status, size_gib, created_at) values ($1, $2, $3, now())', [`vol-${i++}`, 'creating', 1]);
    await client.query('commit');
  });
  return samples;
}
