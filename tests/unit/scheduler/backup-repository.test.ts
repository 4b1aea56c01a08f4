/** The BackupRepositoryFilter: a restore into a new volume goes where its backup's repository is reached. */
import test from 'ava';
import { BackupRepositoryFilter, explainNoValidBackend, place, reachesRepository } from '../../../src/scheduler/placement/index.js';
import { pool, request } from './fixtures.js';

const A = { backupRepository: 'dir:/srv/a', backupRepositoryId: 'id-a' };
const B = { backupRepository: 'dir:/srv/b', backupRepositoryId: 'id-b' };
const near = (repositoryId: string | null, host: string | null = 'host1') => request({ nearBackupRepository: { backupId: 'bk-1', repository: 'dir:/srv/a', repositoryId, host } });

test('a request that is no restore passes every pool', (t) => {
  t.true(BackupRepositoryFilter.filter(pool({ ...B }), request()).pass);
  t.true(BackupRepositoryFilter.filter(pool(), request()).pass);
});

test('a pool whose agent reaches the same repository id passes', (t) => {
  t.true(BackupRepositoryFilter.filter(pool({ host: 'host2', ...A }), near('id-a')).pass);
});

test('a pool whose agent reaches another repository is refused, naming both', (t) => {
  const r = BackupRepositoryFilter.filter(pool({ host: 'host2', ...B }), near('id-a'));
  t.false(r.pass);
  t.regex(r.reason!, /reaches backup repository dir:\/srv\/b \(id id-b\), not the backup's repository dir:\/srv\/a \(id id-a\)/);
});

test('a pool that advertises no repository is refused for a backup with an id', (t) => {
  const r = BackupRepositoryFilter.filter(pool({ host: 'host1' }), near('id-a'));
  t.false(r.pass);
  t.regex(r.reason!, /reports no backup repository identity/);
});

test('a backup recorded without an id goes to the host that took it', (t) => {
  t.true(reachesRepository(pool({ host: 'host1', ...B }), { repository: 'dir:/srv/a', repositoryId: null, host: 'host1' }).pass);
  const r = reachesRepository(pool({ host: 'host2', ...A }), { repository: 'dir:/srv/a', repositoryId: null, host: 'host1' });
  t.false(r.pass);
  t.regex(r.reason!, /only host host1, which took it/);
});

test('a backup with neither id nor host can go anywhere', (t) => {
  t.true(reachesRepository(pool({ host: 'host2' }), { repository: 'dir:/srv/a', repositoryId: null, host: null }).pass);
});

test('place keeps only the pools that reach the repository, several when it is shared', (t) => {
  const pools = [pool({ host: 'host1', pool: 'p', ...A }), pool({ host: 'host2', pool: 'p', ...B }), pool({ host: 'host3', pool: 'p', ...A })];
  const r = place(near('id-a'), pools);
  t.deepEqual(r.candidates.map((c) => c.pool.host).sort(), ['host1', 'host3']);
  t.deepEqual(r.rejections.map((x) => [x.pool, x.filter]), [['host2@p', 'BackupRepositoryFilter']]);
});

test('NO_VALID_BACKEND for a restore names the repository and what to do', (t) => {
  const req = near('id-a');
  const r = place(req, [pool({ host: 'host2', pool: 'p', ...B })]);
  t.is(r.candidates.length, 0);
  const msg = explainNoValidBackend(req, r.rejections);
  t.regex(msg, /host2@p rejected by BackupRepositoryFilter/);
  t.regex(msg, /Backup bk-1 is in repository dir:\/srv\/a \(id id-a\)/);
  t.regex(msg, /mount that repository on a storage host/);
  t.notRegex(msg, /Ask for a smaller size/);
});
