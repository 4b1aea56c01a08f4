/**
 * Repository identity (src/node-agent/backup/repository-id.ts): one id per repository,
 * stored inside it, the same for every agent that reaches it, made once even when agents
 * start together.
 */
import test from 'ava';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { openRepository, repositoryId, REPOSITORY_ID_FILE } from '../../src/node-agent/backup/index.js';
import { withNats } from '../helpers/nats.js';
import { tempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

test('a directory repository gets one id, kept in repository.json, the same for every opener', async (t) => {
  const dir = await tempDir('flint-repoid-');
  t.teardown(() => dir.cleanup());
  const spec = `dir:${join(dir.path, 'repo')}`;
  // Eight agents open it at once: one id wins, all read it.
  const ids = await Promise.all(
    Array.from({ length: 8 }, async () => repositoryId(await openRepository(spec, { dataDir: dir.path }), {})),
  );
  t.is(new Set(ids).size, 1);
  t.regex(ids[0]!, /^[0-9a-f-]{36}$/);
  const doc = JSON.parse(await fs.readFile(join(dir.path, 'repo', REPOSITORY_ID_FILE), 'utf8')) as { id: string; format: string };
  t.is(doc.id, ids[0]);
  t.is(doc.format, 'flint-backup-repository/1');
  // Opened again later (an agent restart): the same id; no temp files left.
  t.is(await repositoryId(await openRepository(spec, { dataDir: dir.path }), {}), ids[0]);
  t.deepEqual((await fs.readdir(join(dir.path, 'repo', 'tmp'))).filter((f) => f.startsWith('repository-')), []);
});

test('two directories are two repositories', async (t) => {
  const dir = await tempDir('flint-repoid-');
  t.teardown(() => dir.cleanup());
  const a = await repositoryId(await openRepository(`dir:${join(dir.path, 'a')}`, { dataDir: dir.path }), {});
  const b = await repositoryId(await openRepository(`dir:${join(dir.path, 'b')}`, { dataDir: dir.path }), {});
  t.not(a, b);
});

test('a damaged identity file is an error that says what to do, not a new id', async (t) => {
  const dir = await tempDir('flint-repoid-');
  t.teardown(() => dir.cleanup());
  const repo = await openRepository(`dir:${join(dir.path, 'r')}`, { dataDir: dir.path });
  await fs.writeFile(join(dir.path, 'r', REPOSITORY_ID_FILE), '{"id": 42}');
  const err = await t.throwsAsync(repositoryId(repo, {}));
  t.regex(err!.message, /is not a Flint repository identity/);
});

test('a NATS bucket repository has one id for every agent on that bucket, another for another bucket', async (t) => {
  const server = await withNats();
  const ncs = await Promise.all([connect({ servers: server.url }), connect({ servers: server.url })]);
  t.teardown(async () => {
    await Promise.all(ncs.map((nc) => nc.close()));
    await server.stop();
  });
  const ids = await Promise.all(
    ncs.map(async (nc) => repositoryId(await openRepository('nats:shared-bkp', { nats: nc, dataDir: '/nonexistent' }), { nats: nc })),
  );
  t.is(ids[0], ids[1]);
  const other = await repositoryId(await openRepository('nats:other-bkp', { nats: ncs[0], dataDir: '/nonexistent' }), { nats: ncs[0] });
  t.not(other, ids[0]);
});

test.after.always('no process is left behind', noProcessesLeft);
