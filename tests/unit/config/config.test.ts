/** `loadConfig(env, cwd)` of src/config/config.ts: defaults, every variable, the config file, and problems reported together. */
import test, { type ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, type FlintConfig } from '../../../src/config/config.js';
import { tempDir } from '../../helpers/tmp.js';
import { backendHostsOf } from '../../../src/config/pool-config.js';

const CWD = '/srv/flint';

function configError(t: ExecutionContext, env: Record<string, string | undefined>, cwd = CWD): ConfigError {
  return t.throws(() => loadConfig(env, cwd), { instanceOf: ConfigError });
}

async function configFile(t: ExecutionContext, content: unknown): Promise<{ dir: string; path: string }> {
  const dir = await tempDir('flint-config-');
  t.teardown(dir.cleanup);
  const path = join(dir.path, 'flint.json');
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return { dir: dir.path, path };
}

// defaults

test('with an empty environment every setting has its default', (t) => {
  const c = loadConfig({}, CWD);
  t.deepEqual(c, {
    dataDir: '/srv/flint/.flint',
    listen: { host: '127.0.0.1', port: 4000 },
    natsUrl: null,
    database: { kind: 'sqlite', path: '/srv/flint/.flint/flint.sqlite' },
    agentHost: hostname(),
    agentAddress: '127.0.0.1',
    availabilityZone: 'nova',
    pools: [
      {
        name: 'default',
        driver: 'file',
        directory: '/srv/flint/.flint/pools/default',
        imageFormat: 'qcow2',
        capabilities: {},
        maxOverSubscriptionRatio: 20,
        reservedPercentage: 0,
        thinProvisioning: true,
        targets: ['iscsi', 'nbd'],
        defaultTarget: 'iscsi',
        capacityGiB: undefined,
      },
    ],
    heartbeatSeconds: 5,
    schedulerMaxAttempts: 3,
    operationTimeoutSeconds: 900,
    schedulerWeighers: [],
    logLevel: 'info',
    introspection: true,
    iscsiPort: 3260,
    nbdPorts: [10809, 10899],
    backupRepository: 'dir:/srv/flint/.flint/backups',
    backupChunkMiB: 4,
    secretKeyFile: '/srv/flint/.flint/secret.key',
    secretKeyFileIsDefault: true,
    apiLimits: {
      enabled: true,
      maxTokens: 5_000,
      maxDepth: 10,
      maxAliases: 30,
      maxFields: 1_000,
      maxCost: 10_000,
      timeoutMs: 15_000,
      ratePerSecond: 50,
      rateBurst: 200,
      anonymousRatePerSecond: 5,
      anonymousBurst: 20,
      authFailuresPerMinute: 10,
      wsMaxSubscriptions: 100,
      wsMaxConnectionsPerToken: 64,
      wsMaxConnectionsPerAddress: 256,
      trustedProxies: [],
    },
    natsAuth: { insecure: false },
    natsReplicas: 1,
    transferExpirySeconds: 86_400,
    idempotencyTtlSeconds: 86_400,
    changeRetentionSeconds: 86_400,
    quotaDefaults: { volumes: 10, gigabytes: 1000, snapshots: 10, backups: 10, backupGigabytes: 1000, perVolumeGigabytes: -1, volumeTypes: {} },
  } satisfies FlintConfig);
});

test('FLINT_QUOTA_DEFAULTS: inline JSON or a file, over Cinder\'s defaults; every wrong key or value is named', (t) => {
  const c = loadConfig({ FLINT_QUOTA_DEFAULTS: '{"gigabytes": 2000, "perVolumeGigabytes": 500, "volumeTypes": {"gold": {"gigabytes": 100}}}' }, CWD);
  t.deepEqual(c.quotaDefaults, { volumes: 10, gigabytes: 2000, snapshots: 10, backups: 10, backupGigabytes: 1000, perVolumeGigabytes: 500, volumeTypes: { gold: { gigabytes: 100 } } });
  const err = t.throws(() => loadConfig({ FLINT_QUOTA_DEFAULTS: '{"gigabites": 1, "volumes": -2, "volumeTypes": {"gold": {"snapshots": 1}}}' }, CWD), { instanceOf: ConfigError });
  t.deepEqual(err.problems, [
    'FLINT_QUOTA_DEFAULTS: unknown limit "gigabites"; known: volumes, gigabytes, snapshots, backups, backupGigabytes, perVolumeGigabytes, volumeTypes',
    'FLINT_QUOTA_DEFAULTS: volumes must be an integer, -1 (no limit) or more, got -2',
    'FLINT_QUOTA_DEFAULTS: volumeTypes.gold: unknown limit "snapshots"; known: volumes, gigabytes',
  ]);
  t.throws(() => loadConfig({ FLINT_QUOTA_DEFAULTS: '/nonexistent/quotas.json' }, CWD), { message: /FLINT_QUOTA_DEFAULTS: inline JSON or a JSON file's path/ });
});

test('the default data dir is resolved against the cwd given, not the process cwd', (t) => {
  t.is(loadConfig({}, '/elsewhere').dataDir, '/elsewhere/.flint');
});

test('empty environment variables count as unset', (t) => {
  const c = loadConfig(
    { FLINT_LISTEN: '', FLINT_DATABASE_URL: '', FLINT_POOLS: '', FLINT_HEARTBEAT_SECONDS: '', FLINT_LOG_LEVEL: '', FLINT_NATS_URL: '' },
    CWD,
  );
  t.deepEqual(c.listen, { host: '127.0.0.1', port: 4000 });
  t.is(c.natsUrl, null);
  t.is(c.heartbeatSeconds, 5);
  t.is(c.logLevel, 'info');
  t.is(c.pools[0]!.name, 'default');
});

// the data dir

test('a relative FLINT_DATA_DIR is resolved against the cwd and moves the sqlite file and default pool', (t) => {
  const c = loadConfig({ FLINT_DATA_DIR: 'var/data' }, CWD);
  t.is(c.dataDir, '/srv/flint/var/data');
  t.deepEqual(c.database, { kind: 'sqlite', path: '/srv/flint/var/data/flint.sqlite' });
  t.like(c.pools[0], { driver: 'file', directory: '/srv/flint/var/data/pools/default' });
});

test('an absolute FLINT_DATA_DIR is kept', (t) => {
  t.is(loadConfig({ FLINT_DATA_DIR: '/var/lib/flint' }, CWD).dataDir, '/var/lib/flint');
});

// listen

test('FLINT_LISTEN takes a host and a port', (t) => {
  t.deepEqual(loadConfig({ FLINT_LISTEN: '0.0.0.0:8080' }, CWD).listen, { host: '0.0.0.0', port: 8080 });
  t.deepEqual(loadConfig({ FLINT_LISTEN: 'gw.example.org:65535' }, CWD).listen, { host: 'gw.example.org', port: 65535 });
  t.deepEqual(loadConfig({ FLINT_LISTEN: 'localhost:0' }, CWD).listen, { host: 'localhost', port: 0 });
});

test('FLINT_LISTEN takes an IPv6 host in brackets and drops the brackets', (t) => {
  t.deepEqual(loadConfig({ FLINT_LISTEN: '[::1]:4000' }, CWD).listen, { host: '::1', port: 4000 });
  t.deepEqual(loadConfig({ FLINT_LISTEN: '[::]:80' }, CWD).listen, { host: '::', port: 80 });
});

for (const bad of ['localhost', '::1:4000', ':4000', 'host:', 'host:65536', 'host:http', 'host:123456']) {
  test(`FLINT_LISTEN "${bad}" is a problem quoting the value`, (t) => {
    const err = configError(t, { FLINT_LISTEN: bad });
    t.deepEqual(err.problems, [`FLINT_LISTEN: expected host:port with a port from 0 to 65535, got "${bad}"`]);
  });
}

// NATS

test('FLINT_NATS_URL takes one URL or a comma-separated cluster', (t) => {
  t.is(loadConfig({ FLINT_NATS_URL: 'nats://127.0.0.1:4222' }, CWD).natsUrl, 'nats://127.0.0.1:4222');
  t.is(loadConfig({ FLINT_NATS_URL: 'nats://a:4222,nats://b:4222' }, CWD).natsUrl, 'nats://a:4222,nats://b:4222');
  t.is(loadConfig({ FLINT_NATS_URL: 'tls://nats.example.org:4222' }, CWD).natsUrl, 'tls://nats.example.org:4222');
});

test('a FLINT_NATS_URL that is not a NATS URL is a problem', (t) => {
  const err = configError(t, { FLINT_NATS_URL: 'http://nats:4222' });
  t.is(err.problems.length, 1);
  t.true(err.problems[0]!.startsWith('FLINT_NATS_URL: '), err.problems[0]);
});

// database

test('FLINT_DATABASE_URL sqlite: with a relative path resolves it against the cwd', (t) => {
  t.deepEqual(loadConfig({ FLINT_DATABASE_URL: 'sqlite:db/flint.sqlite' }, CWD).database, { kind: 'sqlite', path: '/srv/flint/db/flint.sqlite' });
});

test('FLINT_DATABASE_URL sqlite: with an absolute path keeps it', (t) => {
  t.deepEqual(loadConfig({ FLINT_DATABASE_URL: 'sqlite:/var/lib/flint/f.sqlite' }, CWD).database, { kind: 'sqlite', path: '/var/lib/flint/f.sqlite' });
  t.deepEqual(loadConfig({ FLINT_DATABASE_URL: 'sqlite:///var/lib/flint/f.sqlite' }, CWD).database, { kind: 'sqlite', path: '/var/lib/flint/f.sqlite' });
});

test('FLINT_DATABASE_URL sqlite: without a path is a problem', (t) => {
  const err = configError(t, { FLINT_DATABASE_URL: 'sqlite:' });
  t.deepEqual(err.problems, ['FLINT_DATABASE_URL: sqlite: needs a file path, e.g. sqlite:/var/lib/flint/flint.sqlite']);
});

test('FLINT_DATABASE_URL postgres:// and postgresql:// select PostgreSQL with the URL as given', (t) => {
  for (const url of ['postgres://flint@db:5432/flint', 'postgresql://flint:pw@db.example.org/flint?sslmode=require']) {
    t.deepEqual(loadConfig({ FLINT_DATABASE_URL: url }, CWD).database, { kind: 'postgresql', url });
  }
});

test('a FLINT_DATABASE_URL of another kind is a problem that does not show the password', (t) => {
  const err = configError(t, { FLINT_DATABASE_URL: 'mysql://flint:s3cret@db/flint' });
  t.deepEqual(err.problems, ['FLINT_DATABASE_URL: expected sqlite:PATH or postgres://USER@HOST:PORT/DATABASE, got "mysql://flint:***@db/flint"']);
  t.false(err.message.includes('s3cret'));
});

test('a postgres FLINT_DATABASE_URL without a database name is a problem', (t) => {
  const err = configError(t, { FLINT_DATABASE_URL: 'postgres://flint@db:5432' });
  t.is(err.problems.length, 1);
  t.true(err.problems[0]!.startsWith('FLINT_DATABASE_URL: '));
});

// agent host, zone, numbers, log level

test('FLINT_AGENT_HOST and FLINT_AVAILABILITY_ZONE are taken as given', (t) => {
  const c = loadConfig({ FLINT_AGENT_HOST: 'storage-01.rack_2', FLINT_AVAILABILITY_ZONE: 'eu-west:1a' }, CWD);
  t.is(c.agentHost, 'storage-01.rack_2');
  t.is(c.availabilityZone, 'eu-west:1a');
});

test('a FLINT_AGENT_HOST or FLINT_AVAILABILITY_ZONE with spaces or slashes is a problem each', (t) => {
  const err = configError(t, { FLINT_AGENT_HOST: 'host/1', FLINT_AVAILABILITY_ZONE: 'two words' });
  t.is(err.problems.length, 2);
  t.true(err.problems[0]!.startsWith('FLINT_AGENT_HOST: '));
  t.true(err.problems[1]!.startsWith('FLINT_AVAILABILITY_ZONE: '));
});

test('FLINT_HEARTBEAT_SECONDS and FLINT_SCHEDULER_MAX_ATTEMPTS are parsed as integers', (t) => {
  const c = loadConfig({ FLINT_HEARTBEAT_SECONDS: '300', FLINT_SCHEDULER_MAX_ATTEMPTS: '1' }, CWD);
  t.is(c.heartbeatSeconds, 300);
  t.is(c.schedulerMaxAttempts, 1);
});

for (const [key, value, range] of [
  ['FLINT_HEARTBEAT_SECONDS', '0', '1 to 300'],
  ['FLINT_HEARTBEAT_SECONDS', '301', '1 to 300'],
  ['FLINT_HEARTBEAT_SECONDS', '2.5', '1 to 300'],
  ['FLINT_HEARTBEAT_SECONDS', 'five', '1 to 300'],
  ['FLINT_SCHEDULER_MAX_ATTEMPTS', '0', '1 to 10'],
  ['FLINT_SCHEDULER_MAX_ATTEMPTS', '11', '1 to 10'],
] as const) {
  test(`${key}=${value} is a problem giving the range ${range}`, (t) => {
    const err = configError(t, { [key]: value });
    t.deepEqual(err.problems, [`${key}: must be an integer from ${range}, got "${value}"`]);
  });
}

test('FLINT_LOG_LEVEL takes the pino levels and refuses others', (t) => {
  t.is(loadConfig({ FLINT_LOG_LEVEL: 'silent' }, CWD).logLevel, 'silent');
  t.is(loadConfig({ FLINT_LOG_LEVEL: 'debug' }, CWD).logLevel, 'debug');
  const err = configError(t, { FLINT_LOG_LEVEL: 'verbose' });
  t.deepEqual(err.problems, ['FLINT_LOG_LEVEL: one of fatal, error, warn, info, debug, trace, silent, got "verbose"']);
});

// pools

test('FLINT_POOLS is parsed with defaults for what a pool leaves out', (t) => {
  const pools = JSON.stringify([
    { name: 'fast', directory: '/srv/fast', imageFormat: 'raw', thinProvisioning: false, capacityGiB: 500, capabilities: { ssd: true, tier: 'gold', iops: 9000 } },
    { name: 'slow', directory: 'disks/slow', maxOverSubscriptionRatio: 1.5, reservedPercentage: 10 },
  ]);
  const c = loadConfig({ FLINT_POOLS: pools, FLINT_DATA_DIR: '/data' }, CWD);
  t.deepEqual(c.pools, [
    {
      name: 'fast',
      driver: 'file',
      directory: '/srv/fast',
      imageFormat: 'raw',
      capabilities: { ssd: true, tier: 'gold', iops: 9000 },
      maxOverSubscriptionRatio: 20,
      reservedPercentage: 0,
      thinProvisioning: false,
      targets: ['iscsi', 'nbd'],
      defaultTarget: 'iscsi',
      capacityGiB: 500,
    },
    {
      name: 'slow',
      driver: 'file',
      directory: '/data/disks/slow',
      imageFormat: 'qcow2',
      capabilities: {},
      maxOverSubscriptionRatio: 1.5,
      reservedPercentage: 10,
      thinProvisioning: true,
      targets: ['iscsi', 'nbd'],
      defaultTarget: 'iscsi',
      capacityGiB: undefined,
    },
  ]);
});

test('a pool may cap the bandwidth of copies into it (copyMiBps); zero or a negative cap is a problem', (t) => {
  const c = loadConfig({ FLINT_POOLS: '[{"name":"bulk","copyMiBps":50}]', FLINT_DATA_DIR: '/data' }, CWD);
  t.is(c.pools[0]!.copyMiBps, 50);
  t.is(loadConfig({ FLINT_POOLS: '[{"name":"bulk"}]', FLINT_DATA_DIR: '/data' }, CWD).pools[0]!.copyMiBps, undefined);
  for (const bad of [0, -5]) {
    const err = configError(t, { FLINT_POOLS: JSON.stringify([{ name: 'bulk', copyMiBps: bad }]) });
    t.regex(err.problems[0]!, /^FLINT_POOLS\[0\]\.copyMiBps: /);
  }
});

test('a pool without a directory lives under <dataDir>/pools/<name>', (t) => {
  const c = loadConfig({ FLINT_POOLS: '[{"name":"gold"}]', FLINT_DATA_DIR: '/data' }, CWD);
  t.like(c.pools[0], { driver: 'file', directory: '/data/pools/gold' });
});

test('FLINT_POOLS that is not JSON is a problem', (t) => {
  const err = configError(t, { FLINT_POOLS: '[{name: "x"}' });
  t.is(err.problems.length, 1);
  t.true(err.problems[0]!.startsWith('FLINT_POOLS: not valid JSON ('), err.problems[0]);
});

for (const value of ['[]', '{}', '"default"']) {
  test(`FLINT_POOLS=${value} is a problem: pools must be a non-empty array`, (t) => {
    const err = configError(t, { FLINT_POOLS: value });
    t.deepEqual(err.problems, ['FLINT_POOLS: must be a non-empty JSON array of pools']);
  });
}

test('a pool with an unknown key, a bad name or a bad number is a problem named by index and field', (t) => {
  const err = configError(t, {
    FLINT_POOLS: JSON.stringify([{ name: 'ok' }, { name: 'bad name' }, { name: 'p3', reservedPercentage: 101 }, { name: 'p4', color: 'red' }]),
  });
  t.is(err.problems.length, 3, err.message);
  t.true(err.problems[0]!.startsWith('FLINT_POOLS[1].name: '), err.problems[0]);
  t.true(err.problems[1]!.startsWith('FLINT_POOLS[2].reservedPercentage: '), err.problems[1]);
  t.true(err.problems[2]!.startsWith('FLINT_POOLS[3].'), err.problems[2]);
  t.regex(err.problems[2]!, /color/);
});

test('two pools with one name are a problem', (t) => {
  const err = configError(t, { FLINT_POOLS: '[{"name":"a"},{"name":"b"},{"name":"a"}]' });
  t.deepEqual(err.problems, ['FLINT_POOLS[2].name: "a" is declared twice']);
});

test('a thick qcow2 pool is a problem: thick provisioning needs raw', (t) => {
  const err = configError(t, { FLINT_POOLS: '[{"name":"a","thinProvisioning":false}]' });
  t.deepEqual(err.problems, ['FLINT_POOLS[0]: thick provisioning needs imageFormat "raw" (qcow2 images grow on write)']);
});

// the config file

test('FLINT_CONFIG_FILE supplies settings, with relative paths resolved against the cwd', async (t) => {
  const file = await configFile(t, {
    dataDir: 'state',
    listen: '[::]:4100',
    natsUrl: 'nats://nats:4222',
    databaseUrl: 'postgres://flint@db:5432/flint',
    agentHost: 'node-7',
    availabilityZone: 'az2',
    pools: [{ name: 'p1', imageFormat: 'raw' }],
    heartbeatSeconds: 7,
    schedulerMaxAttempts: 4,
    logLevel: 'warn',
  });
  const c = loadConfig({ FLINT_CONFIG_FILE: 'flint.json' }, file.dir);
  t.is(c.dataDir, join(file.dir, 'state'));
  t.deepEqual(c.listen, { host: '::', port: 4100 });
  t.is(c.natsUrl, 'nats://nats:4222');
  t.deepEqual(c.database, { kind: 'postgresql', url: 'postgres://flint@db:5432/flint' });
  t.is(c.agentHost, 'node-7');
  t.is(c.availabilityZone, 'az2');
  t.is(c.pools.length, 1);
  t.like(c.pools[0], { name: 'p1', imageFormat: 'raw', directory: join(file.dir, 'state', 'pools', 'p1') });
  t.is(c.heartbeatSeconds, 7);
  t.is(c.schedulerMaxAttempts, 4);
  t.is(c.logLevel, 'warn');
});

test('environment variables override the config file', async (t) => {
  const file = await configFile(t, { listen: '0.0.0.0:1', availabilityZone: 'file-az', heartbeatSeconds: 9, pools: [{ name: 'from-file' }] });
  const c = loadConfig(
    { FLINT_CONFIG_FILE: file.path, FLINT_LISTEN: '127.0.0.1:2', FLINT_HEARTBEAT_SECONDS: '3', FLINT_POOLS: '[{"name":"from-env"}]' },
    CWD,
  );
  t.deepEqual(c.listen, { host: '127.0.0.1', port: 2 });
  t.is(c.heartbeatSeconds, 3);
  t.deepEqual(c.pools.map((p) => p.name), ['from-env']);
  t.is(c.availabilityZone, 'file-az', 'what the environment leaves unset still comes from the file');
});

test('a config file with an unknown key or a wrong type is a problem naming the file and the key', async (t) => {
  const file = await configFile(t, { listen: 4000, colour: 'blue' });
  const err = configError(t, { FLINT_CONFIG_FILE: file.path });
  t.true(err.problems.length >= 1, err.message);
  t.true(err.problems.every((p) => p.startsWith(`FLINT_CONFIG_FILE ${file.path}: `)), err.message);
  t.true(err.problems.some((p) => p.includes('listen')), err.message);
  t.true(err.problems.some((p) => p.includes('colour')), err.message);
});

test('a config file that is not JSON is a problem', async (t) => {
  const file = await configFile(t, '{ listen: ');
  const err = configError(t, { FLINT_CONFIG_FILE: file.path });
  t.is(err.problems.length, 1);
  t.true(err.problems[0]!.startsWith(`FLINT_CONFIG_FILE ${file.path}: `));
});

test('a missing config file is a problem', (t) => {
  const err = configError(t, { FLINT_CONFIG_FILE: '/nonexistent/flint.json' });
  t.is(err.problems.length, 1);
  t.true(err.problems[0]!.startsWith('FLINT_CONFIG_FILE /nonexistent/flint.json: '));
  t.regex(err.problems[0]!, /ENOENT/);
});

test('pools from the config file get the same checks as FLINT_POOLS', async (t) => {
  const file = await configFile(t, { pools: [{ name: 'a' }, { name: 'a' }] });
  const err = configError(t, { FLINT_CONFIG_FILE: file.path });
  t.deepEqual(err.problems, ['FLINT_POOLS[1].name: "a" is declared twice']);
});

test('a bad number in the config file is quoted from the file', async (t) => {
  const file = await configFile(t, { heartbeatSeconds: 0 });
  const err = configError(t, { FLINT_CONFIG_FILE: file.path });
  t.deepEqual(err.problems, ['FLINT_HEARTBEAT_SECONDS: must be an integer from 1 to 300, got 0']);
});

test('a bad number in the config file is quoted from the file even when the variable is set but empty', async (t) => {
  // An empty variable counts as unset, so the value that was refused is the file's, and the message must say so.
  const file = await configFile(t, { heartbeatSeconds: 0 });
  const err = configError(t, { FLINT_CONFIG_FILE: file.path, FLINT_HEARTBEAT_SECONDS: '' });
  t.deepEqual(err.problems, ['FLINT_HEARTBEAT_SECONDS: must be an integer from 1 to 300, got 0']);
});

// every problem at once

test('one ConfigError lists every problem at once, each named by its variable', (t) => {
  const err = configError(t, {
    FLINT_LISTEN: 'nowhere',
    FLINT_DATABASE_URL: 'mongodb://db/flint',
    FLINT_POOLS: JSON.stringify([{ name: 'a', thinProvisioning: false }, { name: 'a', imageFormat: 'raw' }]),
    FLINT_LOG_LEVEL: 'loud',
  });
  t.is(err.name, 'ConfigError');
  t.is(err.problems.length, 5, err.message);
  t.true(err.problems[0]!.startsWith('FLINT_LISTEN: '));
  t.true(err.problems[1]!.startsWith('FLINT_DATABASE_URL: '));
  t.true(err.problems[2]!.startsWith('FLINT_POOLS[0]: thick provisioning'));
  t.true(err.problems[3]!.startsWith('FLINT_POOLS[1].name: "a" is declared twice'));
  t.true(err.problems[4]!.startsWith('FLINT_LOG_LEVEL: '));
  for (const p of err.problems) t.true(err.message.includes(`  - ${p}`), 'the message lists every problem');
  t.true(err.message.startsWith('Invalid configuration:\n'));
});

test('bad JSON in FLINT_POOLS is reported together with the other variables\' problems', (t) => {
  const err = configError(t, {
    FLINT_LISTEN: '[::1]',
    FLINT_DATABASE_URL: 'sqlite:',
    FLINT_POOLS: 'not json',
    FLINT_NATS_URL: 'localhost:4222',
    FLINT_SCHEDULER_MAX_ATTEMPTS: '0',
  });
  t.deepEqual(
    err.problems.map((p) => p.split(':')[0]),
    ['FLINT_LISTEN', 'FLINT_NATS_URL', 'FLINT_DATABASE_URL', 'FLINT_POOLS', 'FLINT_SCHEDULER_MAX_ATTEMPTS'],
    err.message,
  );
});

// frozen

test('the configuration is frozen all the way down', (t) => {
  const c = loadConfig({ FLINT_POOLS: '[{"name":"a","capabilities":{"ssd":true}}]' }, CWD);
  t.true(Object.isFrozen(c));
  t.true(Object.isFrozen(c.listen));
  t.true(Object.isFrozen(c.database));
  t.true(Object.isFrozen(c.pools));
  t.true(Object.isFrozen(c.pools[0]));
  t.true(Object.isFrozen(c.pools[0]!.capabilities));
  t.throws(() => {
    (c as { availabilityZone: string }).availabilityZone = 'other';
  }, { instanceOf: TypeError });
  t.throws(() => {
    (c.pools as PoolList).push(c.pools[0]!);
  }, { instanceOf: TypeError });
  t.is(c.availabilityZone, 'nova');
});

type PoolList = FlintConfig['pools'][number][];

test('FLINT_SCHEDULER_WEIGHERS takes names with optional multipliers and refuses unknown ones', (t) => {
  const c = loadConfig({ FLINT_SCHEDULER_WEIGHERS: 'CapacityWeigher:2, VolumeNumberWeigher' }, '/srv');
  t.deepEqual(c.schedulerWeighers, [
    { name: 'CapacityWeigher', multiplier: 2 },
    { name: 'VolumeNumberWeigher', multiplier: undefined },
  ]);
  const err = t.throws(() => loadConfig({ FLINT_SCHEDULER_WEIGHERS: 'GoodnessWeigher:1,CapacityWeigher:x' }, '/srv'), { instanceOf: ConfigError });
  t.is(err.problems.length, 2);
  t.true(err.problems.every((p) => p.startsWith('FLINT_SCHEDULER_WEIGHERS:')));
});

test('FLINT_ISCSI_PORT and FLINT_NBD_PORTS set the agent\'s export ports; bad values say what to write', (t) => {
  const c = loadConfig({ FLINT_ISCSI_PORT: '13260', FLINT_NBD_PORTS: '20000-20010' }, '/srv');
  t.is(c.iscsiPort, 13260);
  t.deepEqual(c.nbdPorts, [20000, 20010]);
  const err = t.throws(() => loadConfig({ FLINT_ISCSI_PORT: '0', FLINT_NBD_PORTS: '20010-20000' }, '/srv'));
  t.regex(err!.message, /FLINT_ISCSI_PORT: must be an integer from 1 to 65535/);
  t.regex(err!.message, /FLINT_NBD_PORTS: expected FIRST-LAST/);
});

test('backup settings: a repository spec and a power-of-two chunk size, every problem reported', (t) => {
  const c = loadConfig({ FLINT_BACKUP_REPOSITORY: 'nats:flint-backups', FLINT_BACKUP_CHUNK_MIB: '8' }, '/srv');
  t.is(c.backupRepository, 'nats:flint-backups');
  t.is(c.backupChunkMiB, 8);
  const err = t.throws(() => loadConfig({ FLINT_BACKUP_REPOSITORY: 's3:bucket', FLINT_BACKUP_CHUNK_MIB: '3' }, '/srv'));
  t.regex(err!.message, /FLINT_BACKUP_REPOSITORY: dir:\/path or nats:<bucket>/);
  t.regex(err!.message, /FLINT_BACKUP_CHUNK_MIB: a power of two/);
});

// export targets of a pool, NBD over TLS

test('a pool offers both export targets by default, iSCSI first; an nbd-only pool defaults to nbd', (t) => {
  const c = loadConfig({ FLINT_POOLS: JSON.stringify([{ name: 'a' }, { name: 'b', targets: ['nbd'] }, { name: 'c', defaultTarget: 'nbd' }]) }, '/srv');
  t.deepEqual(
    c.pools.map((p) => [p.name, p.targets, p.defaultTarget]),
    [
      ['a', ['iscsi', 'nbd'], 'iscsi'],
      ['b', ['nbd'], 'nbd'],
      ['c', ['iscsi', 'nbd'], 'nbd'],
    ],
  );
});

test('pool targets: a default not offered, a repeated kind, an empty list and an unknown kind are problems named by pool', (t) => {
  const err = configError(t, {
    FLINT_POOLS: JSON.stringify([
      { name: 'a', targets: ['iscsi'], defaultTarget: 'nbd' },
      { name: 'b', targets: ['nbd', 'nbd'] },
      { name: 'c', targets: [] },
      { name: 'd', targets: ['fc'] },
    ]),
  });
  t.is(err.problems[0], 'FLINT_POOLS[0].defaultTarget: "nbd" is not among the pool\'s targets ("iscsi"); add it to targets or pick one of them');
  t.is(err.problems[1], 'FLINT_POOLS[1].targets: "nbd" is listed twice; list each of "iscsi", "nbd" at most once');
  t.is(err.problems[2], 'FLINT_POOLS[2].targets: name at least one of "iscsi", "nbd"');
  t.true(err.problems[3]!.startsWith('FLINT_POOLS[3].targets.0: '), err.problems[3]);
  t.is(err.problems.length, 4);
});

test('FLINT_NBD_TLS_DIR turns on NBD over TLS (relative to the cwd); client verification is off unless asked', (t) => {
  t.is(loadConfig({}, '/srv').nbdTls, undefined);
  t.deepEqual(loadConfig({ FLINT_NBD_TLS_DIR: 'pki/nbd' }, '/srv').nbdTls, { dir: '/srv/pki/nbd', verifyClients: false });
  t.deepEqual(loadConfig({ FLINT_NBD_TLS_DIR: '/etc/flint/nbd', FLINT_NBD_TLS_VERIFY_CLIENTS: 'true' }, '/srv').nbdTls, { dir: '/etc/flint/nbd', verifyClients: true });
  const err = configError(t, { FLINT_NBD_TLS_VERIFY_CLIENTS: 'yes' });
  t.deepEqual(err.problems, ['FLINT_NBD_TLS_VERIFY_CLIENTS: true or false, got "yes"']);
  const alone = configError(t, { FLINT_NBD_TLS_VERIFY_CLIENTS: 'true' });
  t.deepEqual(alone.problems, ['FLINT_NBD_TLS_VERIFY_CLIENTS: needs FLINT_NBD_TLS_DIR (client certificates are checked only over TLS)']);
});

test('a pool may name the backend host several agents share it under, not the agent\'s own host', (t) => {
  const c = loadConfig({ FLINT_POOLS: '[{"name":"ceph","backendHost":"shared1","imageFormat":"raw"},{"name":"local"}]', FLINT_AGENT_HOST: 'store-1', FLINT_DATA_DIR: '/data' }, CWD);
  t.is(c.pools[0]!.backendHost, 'shared1');
  t.is(c.pools[1]!.backendHost, undefined);
  t.deepEqual(backendHostsOf(c.pools), ['shared1']);
  t.regex(configError(t, { FLINT_POOLS: '[{"name":"ceph","backendHost":"store-1","imageFormat":"raw"}]', FLINT_AGENT_HOST: 'store-1' }).problems[0]!, /backendHost: "store-1" is this agent's own host/);
  t.regex(configError(t, { FLINT_POOLS: '[{"name":"ceph","backendHost":"a b"}]' }).problems[0]!, /^FLINT_POOLS\[0\]\.backendHost: a host name/);
  // qcow2 images in use are held by the qemu of the one agent exporting them.
  t.deepEqual(configError(t, { FLINT_POOLS: '[{"name":"nfs","backendHost":"shared1"}]' }).problems, [
    'FLINT_POOLS[0]: a file pool several agents serve (backendHost) needs imageFormat "raw"; qcow2 images in use are held by one agent\'s qemu',
  ]);
});

test('FLINT_NATS_REPLICAS: 1 to 5, for the streams and buckets on a NATS cluster', (t) => {
  t.is(loadConfig({ FLINT_NATS_REPLICAS: '3' }, CWD).natsReplicas, 3);
  for (const bad of ['0', '6', 'three']) {
    const err = t.throws(() => loadConfig({ FLINT_NATS_REPLICAS: bad }, CWD));
    t.regex(err!.message, /FLINT_NATS_REPLICAS: must be an integer from 1 to 5/);
  }
});
