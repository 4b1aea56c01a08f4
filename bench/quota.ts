/**
 * What the quota costs a create (issue 12: under 1 ms at p50 with 32 concurrent clients),
 * on SQLite and PostgreSQL, measured where it is spent: the create's transaction.
 *
 * - `check`: the kernel's quota step alone (the project's limits, its counters, the
 *   comparison), timed inside the transaction after the insert the triggers counted.
 * - `create with quota`: the whole transaction (insert, triggers, check, commit).
 * - `create, no quota`: the same insert and commit in a database whose quota triggers
 *   were dropped: the floor the quota is added to.
 *
 * The check alone with one client, then each with 32 clients creating at once, first each in a project of its own (tenants), then
 * all in one project: those queue on its counter row from their insert to their commit,
 * which is the lock that keeps two creates from taking the last GiB.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { enforceClaim, openDb, Project, storeOverrides, Volume, type Db } from '../src/db/index.js';
import { dropQuotaTriggerStatements } from '../src/db/quota-sql.js';
import { DEFAULT_QUOTA_LIMITS } from '../src/domain/quotas.js';
import { createTempDatabase } from '../tests/helpers/postgres.js';
import { tempDir } from '../tests/helpers/tmp.js';
import type { Cleanup } from './cleanup.js';
import { row, type Row } from './report.js';

const CLIENTS = 32;

async function open(kind: 'sqlite' | 'postgresql', cleanup: Cleanup): Promise<Db> {
  if (kind === 'sqlite') {
    const dir = await tempDir('flint-bench-quota-');
    cleanup.add('quota bench dir', () => dir.cleanup());
    const db = await openDb({ kind: 'sqlite', path: join(dir.path, 'q.sqlite') });
    cleanup.add('quota bench sqlite', () => db.close());
    await db.migrate();
    return db;
  }
  const pg = await createTempDatabase();
  cleanup.add('quota bench database', () => pg.drop());
  const db = await openDb({ kind: 'postgresql', url: pg.url });
  cleanup.add('quota bench postgresql', () => db.close());
  await db.migrate();
  return db;
}

function volume(projectId: string): Partial<Volume> {
  return { id: randomUUID(), projectId, name: 'b', sizeGiB: 1, status: 'creating', availabilityZone: 'nova', metadata: {} };
}

async function newProject(db: Db): Promise<string> {
  const em = db.fork();
  const projectId = randomUUID();
  await em.insert(Project, em.create(Project, { id: projectId, name: `bench-${projectId.slice(0, 8)}` }));
  await storeOverrides(db.fork(), projectId, { volumes: 1_000_000, gigabytes: 1_000_000 });
  return projectId;
}

/** `perClient` creates from each of 32 clients at once, each in its own project or all in one, with limits never reached. */
async function run(db: Db, perClient: number, quota: boolean, shared: boolean, samples: { tx: number[]; check: number[] }, clients = CLIENTS): Promise<void> {
  const one = await newProject(db);
  const projects = await Promise.all(Array.from({ length: clients }, () => (shared ? one : newProject(db))));
  await Promise.all(
    projects.map(async (projectId) => {
      for (let i = 0; i < perClient; i++) {
        const t0 = performance.now();
        await db.fork().transactional(async (tx) => {
          const v = tx.create(Volume, volume(projectId) as Volume);
          tx.persist(v);
          if (!quota) return;
          await tx.flush();
          const c0 = performance.now();
          await enforceClaim(tx, DEFAULT_QUOTA_LIMITS, { projectId, volumes: 1, gigabytes: 1, volumeSizeGiB: 1 });
          samples.check.push(performance.now() - c0);
        });
        samples.tx.push(performance.now() - t0);
      }
    }),
  );
}

/** The measurements on one database kind. */
export async function quotaBench(kind: 'sqlite' | 'postgresql', quick: boolean, cleanup: Cleanup): Promise<Row[]> {
  const perClient = quick ? 10 : 60;
  const withQuota = await open(kind, cleanup);
  const bare = await open(kind, cleanup);
  for (const sql of dropQuotaTriggerStatements(kind)) await bare.fork().getConnection().execute(sql, [], 'run');
  const rows: Row[] = [];
  // One client: what the check costs by itself, with nothing to wait for.
  const alone = { tx: [] as number[], check: [] as number[] };
  await run(withQuota, perClient, true, false, alone, 1);
  rows.push(row(`${kind}, c=1: quota check`, alone.check));
  for (const shared of [false, true]) {
    const where = shared ? 'one project' : 'a project each';
    const q = { tx: [] as number[], check: [] as number[] };
    const f = { tx: [] as number[], check: [] as number[] };
    await run(withQuota, 3, true, shared, { tx: [], check: [] }); // warm-up
    await run(withQuota, perClient, true, shared, q);
    await run(bare, 3, false, shared, { tx: [], check: [] });
    await run(bare, perClient, false, shared, f);
    rows.push(
      row(`${kind}, c=${CLIENTS}, ${where}: quota check`, q.check),
      row(`${kind}, c=${CLIENTS}, ${where}: create tx with quota`, q.tx),
      row(`${kind}, c=${CLIENTS}, ${where}: create tx, no quota`, f.tx),
    );
  }
  return rows;
}
