/**
 * `flint <command>`: every role and tool of Flint behind one CLI. The roles (and the ORM
 * and GraphQL schema they load) are imported only when their command runs, so the API
 * commands (`flint volume …`) start fast.
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { flintVersion } from '../config/version.js';
import { registerClusterTopology } from './cluster/command.js';
import { exitUsageErrorsWith2, registerApiCommands, stackFileArgs } from './commands/index.js';

const roles = () => import('./roles.js');

const program = new Command('flint')
  .description('Flint: block-storage control plane (GraphQL gateway, scheduler, node agents over NATS)')
  .version(flintVersion())
  .showHelpAfterError();

program
  .command('dev')
  .description('run everything on this machine: nats-server, SQLite, gateway, scheduler and one agent')
  .option('--ceph', 'also boot a single-node Ceph cluster under the data dir, with an rbd pool "ceph" and a volume type "ceph" (default: FLINT_DEV_CEPH=1)')
  .action(async (o: { ceph?: boolean }) => (await import('./dev.js')).runDev({ ceph: o.ceph === true || process.env.FLINT_DEV_CEPH === '1' }));
program.command('gateway').description('run the GraphQL gateway (needs FLINT_NATS_URL and FLINT_DATABASE_URL)').action(async () => (await roles()).runGateway());
program.command('scheduler').description('run a scheduler (needs FLINT_NATS_URL and FLINT_DATABASE_URL)').action(async () => (await roles()).runScheduler());
program.command('agent').description('run the storage agent of this host (needs FLINT_NATS_URL; pools from FLINT_POOLS)').action(async () => (await roles()).runAgent());
program
  .command('nats-config')
  .description('write the NATS credentials (one nkey seed per role, mode 0600) and the nats-server configuration with each role\'s permissions, and print it')
  .requiredOption('--agents <hosts>', 'every agent host, comma-separated (FLINT_AGENT_HOST of each), e.g. storage-1,storage-2')
  .requiredOption('--out <dir>', 'directory for nats-server.conf and the seeds (made 0700; seeds already there are kept)')
  .option('--backend <backend=hosts...>', 'a backend host several agents serve (the backendHost of their shared pools) and those agents, e.g. shared1=storage-1,storage-2')
  .option('--backup-bucket <bucket...>', 'NATS backup repositories the agents use (FLINT_BACKUP_REPOSITORY=nats:<bucket>)')
  .option('--store-dir <dir>', 'JetStream store directory of the server')
  .option('--listen <host:port>', 'address the server listens on')
  .option('--tls-cert <file>', 'server certificate (PEM): clients must use TLS')
  .option('--tls-key <file>', 'key of --tls-cert')
  .option('--tls-ca <file>', 'CA (PEM) that signed the clients\' certificates: clients must present one (mutual TLS)')
  .option('--quiet', 'do not print the configuration')
  .action(async (opts: import('./nats-config.js').NatsConfigOptions) => (await import('./nats-config.js')).runNatsConfig(opts));
registerClusterTopology(program);
program.command('migrate').description('bring the database schema up to date').action(async () => (await roles()).runMigrate());

const token = program.command('token').description('API tokens, in the configured database (FLINT_DATABASE_URL); they work while Flint runs');
const tokenCli = () => import('./token.js');
token
  .command('create')
  .description('create a token (and its project when new) and print it: the secret is shown this once')
  .requiredOption('--project <name>', 'project the token belongs to')
  .option('--role <role>', 'admin, member or reader', 'member')
  .option('--name <name>', 'a label for the token')
  .option('--expires-in <lifetime>', 'make it stop working after this long: 90m, 12h, 30d (default never)')
  .option('--json', 'the same as -o json: {id, token, projectId, project, role, name, createdAt, expiresAt} (-o table prints the secret alone)')
  // -o/--output is the program's global option (src/cli/commands/context.ts).
  .action(async (_opts: unknown, cmd: Command) => (await tokenCli()).runTokenCreate(cmd.optsWithGlobals<import('./token.js').TokenCreateOptions>()));
token
  .command('list')
  .description('list tokens (never their secrets): id, project, role, name, status, created, expires, last used')
  .option('--project <name>', 'only the tokens of this project')
  .option('--include-revoked', 'also list revoked tokens')
  .action(async (_opts: unknown, cmd: Command) => (await tokenCli()).runTokenList(cmd.optsWithGlobals<{ project?: string; includeRevoked?: boolean; output?: string; format?: string; column?: string[] }>()));
token
  .command('revoke')
  .description('revoke a token by id; with FLINT_NATS_URL the running gateways are told at once and close its WebSockets')
  .argument('<id>', 'id of the token (flint token list)')
  .action(async (id: string) => (await tokenCli()).runTokenRevoke(id));

program
  .command('schema')
  .description('print the GraphQL schema (SDL); with --resources, also write the resources\' JSON Schemas (schema/resources)')
  .option('--out <file>', 'write to a file instead of stdout')
  .option('--resources <dir>', 'write <dir>/<resource>.schema.json: each field\'s x-flint-lifecycle and mutation, each action\'s statuses')
  .action(async (opts: { out?: string; resources?: string }) => {
    if (opts.resources) (await import('./resource-schemas.js')).writeResourceSchemas(opts.resources);
    await import('reflect-metadata');
    const sdl = await (await import('../resolvers/index.js')).printFlintSchema();
    if (opts.out) writeFileSync(opts.out, sdl);
    else process.stdout.write(sdl);
  });

registerApiCommands(program);
exitUsageErrorsWith2(program);

program.parseAsync(stackFileArgs(process.argv)).catch((err: unknown) => {
  process.stderr.write(`flint: ${err instanceof Error ? err.message : String(err)}\n`);
  // A configuration problem found while starting (e.g. NATS refused the role's credentials) exits 2.
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  process.exit(code === 2 ? 2 : 1);
});
