/** `flint token create|list|revoke` as a user runs them, on a SQLite file and on PostgreSQL. */
import test from 'ava';
import { join } from 'node:path';
import { hashToken } from '../../src/db/index.js';
import { BACKENDS, type Backend } from '../helpers/databases.js';
import { runFlint, type Run } from '../helpers/flint-cli.js';
import { createTempDatabase, type TempDatabase } from '../helpers/postgres.js';
import { tempDir, type TempDir } from '../helpers/tmp.js';
import { noProcessesLeft } from '../helpers/processes.js';

let dir: TempDir;
let pg: TempDatabase;

test.before(async () => {
  dir = await tempDir('flint-cli-token-');
  pg = await createTempDatabase();
});

test.after.always(async () => {
  await pg?.drop();
  await dir?.cleanup();
});

function flint(backend: Backend, args: string[]): Promise<Run> {
  return runFlint({ cwd: dir.path, url: '', token: '' }, ['token', ...args], {
    FLINT_DATA_DIR: join(dir.path, backend),
    FLINT_DATABASE_URL: backend === 'postgresql' ? pg.url : `sqlite:${join(dir.path, backend, 'flint.sqlite')}`,
    FLINT_LOG_LEVEL: 'warn',
  });
}

interface Created {
  id: string;
  token: string;
  projectId: string;
  project: string;
  role: string;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
}

interface Listed {
  id: string;
  project: string;
  status: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

for (const backend of BACKENDS) {
  test.serial(`token create --expires-in 30d -o json prints the token with its id, project and expiry (${backend})`, async (t) => {
    const before = Date.now();
    const r = await flint(backend, ['create', '--project', 'team-cli', '--role', 'reader', '--name', 'ci', '--expires-in', '30d', '-o', 'json']);
    t.is(r.status, 0, r.stderr);
    const c = JSON.parse(r.stdout) as Created;
    t.deepEqual(Object.keys(c).sort(), ['createdAt', 'expiresAt', 'id', 'name', 'project', 'projectId', 'role', 'token']);
    t.regex(c.token, /^flint_[A-Za-z0-9_-]{32}$/);
    t.like(c, { project: 'team-cli', role: 'reader', name: 'ci' });
    const lifetime = Date.parse(c.expiresAt!) - Date.parse(c.createdAt);
    t.true(Math.abs(lifetime - 30 * 86_400_000) < 5_000, `${lifetime}`);
    t.true(Date.parse(c.createdAt) >= before - 1000);
  });

  test.serial(`token create --json is the same as -o json, without an expiry by default (${backend})`, async (t) => {
    const r = await flint(backend, ['create', '--project', 'team-cli', '--json']);
    t.is(r.status, 0, r.stderr);
    const c = JSON.parse(r.stdout) as Created;
    t.like(c, { project: 'team-cli', role: 'member', expiresAt: null, name: null });
    t.truthy(c.id);
  });

  test.serial(`token create prints only the secret by default (${backend})`, async (t) => {
    const r = await flint(backend, ['create', '--project', 'team-cli', '--expires-in', '90m']);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /^flint_[A-Za-z0-9_-]{32}\n$/);
    t.regex(r.stderr, /expires at \d{4}-/);
  });

  test.serial(`a bad --expires-in is a usage error, exit 2, and creates nothing (${backend})`, async (t) => {
    for (const bad of ['30', '2w', '0m', '-1d', 'soon']) {
      const r = await flint(backend, ['create', '--project', 'team-bad-life', '--expires-in', bad]);
      t.is(r.status, 2, bad);
      t.regex(r.stderr, /--expires-in:/);
      t.is(r.stdout, '');
    }
    const listed = await flint(backend, ['list', '--project', 'team-bad-life', '-o', 'json']);
    t.deepEqual(JSON.parse(listed.stdout), []);
  });

  test.serial(`token list shows id, project, role, name, status, dates and never a secret or hash; --project filters (${backend})`, async (t) => {
    const made = JSON.parse((await flint(backend, ['create', '--project', 'team-list', '--name', 'listed', '--expires-in', '12h', '-o', 'json'])).stdout) as Created;
    await flint(backend, ['create', '--project', 'team-elsewhere']);
    const table = await flint(backend, ['list', '--project', 'team-list']);
    t.is(table.status, 0, table.stderr);
    const [header, rule, row, ...rest] = table.stdout.trimEnd().split('\n');
    t.regex(header!, /^ID\s+PROJECT\s+ROLE\s+NAME\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED$/);
    t.regex(rule!, /^-+/);
    t.regex(row!, new RegExp(`^${made.id}\\s+team-list\\s+member\\s+listed\\s+active\\s+.*\\(in 1[12]h\\)\\s+-$`));
    t.deepEqual(rest, []);
    t.false(table.stdout.includes(made.token));
    t.false(table.stdout.includes(hashToken(made.token)));

    const json = await flint(backend, ['list', '--project', 'team-list', '-o', 'json']);
    const rows = JSON.parse(json.stdout) as Listed[];
    t.deepEqual(rows.map((x) => x.id), [made.id]);
    t.like(rows[0], { project: 'team-list', status: 'active', expiresAt: made.expiresAt, lastUsedAt: null, revokedAt: null });
    t.false(json.stdout.includes(made.token));
    t.false(json.stdout.includes(hashToken(made.token)));
  });

  test.serial(`token revoke revokes once, says when it already was, and leaves it out of the list unless asked (${backend})`, async (t) => {
    const made = JSON.parse((await flint(backend, ['create', '--project', 'team-revoke', '-o', 'json'])).stdout) as Created;
    const r = await flint(backend, ['revoke', made.id]);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`^Revoked token ${made.id} \\(project team-revoke, member\\)\\.$`, 'm'));
    t.regex(r.stdout, /FLINT_NATS_URL is not set, so no gateway was told; running gateways refuse it within a few seconds/);
    const again = await flint(backend, ['revoke', made.id]);
    t.is(again.status, 0, again.stderr);
    t.regex(again.stdout, /was already revoked at \d{4}-/);
    t.deepEqual(JSON.parse((await flint(backend, ['list', '--project', 'team-revoke', '-o', 'json'])).stdout), []);
    const all = JSON.parse((await flint(backend, ['list', '--project', 'team-revoke', '--include-revoked', '-o', 'json'])).stdout) as Listed[];
    t.like(all[0], { id: made.id, status: 'revoked' });
    t.truthy(all[0]!.revokedAt);
  });

  test.serial(`token revoke of an unknown id exits 4 and says how to find ids (${backend})`, async (t) => {
    const r = await flint(backend, ['revoke', '00000000-0000-4000-8000-000000000000']);
    t.is(r.status, 4);
    t.regex(r.stderr, /no token with id "00000000-0000-4000-8000-000000000000"; see `flint token list --include-revoked`/);
  });
}

test.after.always('no process is left behind', noProcessesLeft);
