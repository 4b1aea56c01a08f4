/**
 * A real Flint for the API-limit tests: its own nats-server and database (a SQLite file,
 * or a temporary PostgreSQL database), and gateways started in this process on that one
 * bus and database, as several gateways share them in production. Each gateway can have
 * its own FLINT_API_* settings. Rows are seeded straight into the database: these tests
 * read, and need many resources fast.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connectBus, type Bus } from '../../src/bus/index.js';
import { createLogger, loadConfig } from '../../src/config/index.js';
import { Attachment, Backup, createToken, openDb, Snapshot, StatusAudit, UserMessage, Volume, type Db } from '../../src/db/index.js';
import { startGateway, type RunningGateway } from '../../src/gateway/index.js';
import { withNats } from '../helpers/nats.js';
import { createTempDatabase } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { StopStack } from '../../src/lifecycle/index.js';

const log = createLogger('security-test', 'silent');

export interface Flint {
  db: Db;
  bus: Bus;
  /** A gateway on this Flint's bus and database, with extra environment (e.g. `{ FLINT_API_RATE_BURST: '5' }`); stopped by `stop()`. */
  gateway(env?: Record<string, string>): Promise<RunningGateway>;
  /** A token of `project` (created when missing) with `role`. */
  token(project: string, role?: 'admin' | 'member' | 'reader'): Promise<{ token: string; projectId: string }>;
  stop(): Promise<void>;
}

export async function startFlint(database: 'sqlite' | 'postgresql' = 'sqlite'): Promise<Flint> {
  const cleanups = new StopStack();
  const stop = (): Promise<void> => cleanups.unwindOrThrow();
  try {
    const nats = await withNats();
    cleanups.push('nats-server', () => nats.stop());
    const dir = await tempDir('flint-security-');
    cleanups.push('temporary directory', () => dir.cleanup());
    const pg = database === 'postgresql' ? await createTempDatabase() : undefined;
    if (pg) cleanups.push('database', () => pg.drop());
    const base = {
      FLINT_DATA_DIR: dir.path,
      FLINT_NATS_URL: nats.url,
      FLINT_DATABASE_URL: pg ? pg.url : `sqlite:${join(dir.path, 'flint.sqlite')}`,
      FLINT_LISTEN: '127.0.0.1:0',
      FLINT_AGENT_HOST: 'security-test',
      FLINT_LOG_LEVEL: 'silent',
    };
    const db = await openDb(loadConfig(base).database);
    cleanups.push('database connection', () => db.close());
    await db.migrate();
    const bus = await connectBus(nats.url, 'security-test');
    cleanups.push('NATS connection', () => bus.close());
    // Gateways stop before the bus and the database they use.
    const gateways: RunningGateway[] = [];
    cleanups.push('gateways', async () => {
      for (const g of gateways.splice(0)) await g.stop();
    });
    return {
      db,
      bus,
      gateway: async (env = {}) => {
        const g = await startGateway(loadConfig({ ...base, ...env }), bus, db, log);
        gateways.push(g);
        return g;
      },
      token: async (project, role = 'member') => {
        const { token, principal } = await createToken(db.fork(), project, role, `${project} ${role}`);
        return { token, projectId: principal.projectId };
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

export interface Seeded {
  volumeIds: string[];
  snapshotIds: string[];
}

/**
 * Rows of `projectId`: `volumes` AVAILABLE volumes, each with `each` snapshots, user
 * messages, live attachments, backups (each backup the parent of the next) and status
 * audits, so every nested field of a volume has something to read.
 */
export async function seed(db: Db, projectId: string, volumes: number, each: number): Promise<Seeded> {
  const em = db.fork();
  const volumeIds: string[] = [];
  const snapshotIds: string[] = [];
  const at = Date.now() - 60_000;
  for (let i = 0; i < volumes; i++) {
    const volumeId = randomUUID();
    volumeIds.push(volumeId);
    const createdAt = new Date(at + i);
    em.create(Volume, { id: volumeId, projectId, name: `v${i}`, sizeGiB: 1, status: 'available', availabilityZone: 'nova', host: 'h1', pool: 'p1', createdAt });
    let parentId: string | null = null;
    for (let j = 0; j < each; j++) {
      const snapshotId = randomUUID();
      snapshotIds.push(snapshotId);
      // Children are younger than their volume, each younger than the one before.
      const childAt = new Date(at + volumes + i * each + j);
      em.create(Snapshot, { id: snapshotId, projectId, volumeId, name: `s${i}-${j}`, sizeGiB: 1, status: 'available', createdAt: childAt });
      const expiresAt = new Date(Date.now() + 3600_000);
      for (const [resourceType, resourceId] of [['volume', volumeId], ['snapshot', snapshotId]] as const) {
        em.create(UserMessage, { id: randomUUID(), projectId, resourceType, resourceId, event: 'test', message: 'seeded', expiresAt });
      }
      const attachmentId = randomUUID();
      em.create(Attachment, {
        id: attachmentId,
        projectId,
        volumeId,
        instanceId: `vm-${j}`,
        status: 'attached',
        mode: 'rw',
        targetKind: 'iscsi',
        host: 'h1',
        pool: 'p1',
        exportRequested: true,
        createdAt: childAt,
      });
      em.create(UserMessage, { id: randomUUID(), projectId, resourceType: 'attachment', resourceId: attachmentId, event: 'test', message: 'seeded', expiresAt });
      const backupId = randomUUID();
      em.create(Backup, { id: backupId, projectId, volumeId, name: `b${i}-${j}`, status: 'available', sizeGiB: 1, repository: 'dir:/nowhere', parentId, createdAt: childAt });
      em.create(UserMessage, { id: randomUUID(), projectId, resourceType: 'backup', resourceId: backupId, event: 'test', message: 'seeded', expiresAt });
      parentId = backupId;
      em.create(StatusAudit, {
        id: randomUUID(),
        resourceType: 'volume',
        resourceId: volumeId,
        projectId,
        action: 'reset_status',
        fromStatus: 'error',
        toStatus: 'available',
        actorTokenId: randomUUID(),
        actorProjectId: projectId,
      });
    }
  }
  await em.flush();
  return { volumeIds, snapshotIds };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

/** A bare GraphQL POST (no SDK: its retries would hide what the gateway answered). */
export async function post(url: string, token: string | undefined, query: string, variables?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

/** `extensions.code` of the first error, or undefined. */
export const codeOf = (a: Answer): unknown => a.body.errors?.[0]?.extensions?.code;
