/**
 * `flint <command>`: every role and tool of Flint behind one CLI. The roles (and the ORM
 * and GraphQL schema they load) are imported only when their command runs, so the API
 * commands (`flint volume …`) start fast.
 */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { flintVersion } from '../config/version.js';
import { exitUsageErrorsWith2, registerApiCommands } from './commands/index.js';

const roles = () => import('./roles.js');

const program = new Command('flint')
  .description('Flint: block-storage control plane (GraphQL gateway, scheduler, node agents over NATS)')
  .version(flintVersion())
  .showHelpAfterError();

program.command('dev').description('run everything on this machine: nats-server, SQLite, gateway, scheduler and one agent').action(async () => (await import('./dev.js')).runDev());
program.command('gateway').description('run the GraphQL gateway (needs FLINT_NATS_URL and FLINT_DATABASE_URL)').action(async () => (await roles()).runGateway());
program.command('scheduler').description('run a scheduler (needs FLINT_NATS_URL and FLINT_DATABASE_URL)').action(async () => (await roles()).runScheduler());
program.command('agent').description('run the storage agent of this host (needs FLINT_NATS_URL; pools from FLINT_POOLS)').action(async () => (await roles()).runAgent());
program.command('migrate').description('bring the database schema up to date').action(async () => (await roles()).runMigrate());

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('create a token (and its project when new) and print it')
  .requiredOption('--project <name>', 'project the token belongs to')
  .option('--role <role>', 'admin, member or reader', 'member')
  .option('--name <name>', 'a label for the token')
  .option('--json', 'print JSON with the project id too')
  .action(async (opts: Parameters<typeof import('./token.js').runTokenCreate>[0]) => (await import('./token.js')).runTokenCreate(opts));

program
  .command('schema')
  .description('print the GraphQL schema (SDL)')
  .option('--out <file>', 'write to a file instead of stdout')
  .action(async (opts: { out?: string }) => {
    await import('reflect-metadata');
    const sdl = await (await import('../resolvers/index.js')).printFlintSchema();
    if (opts.out) writeFileSync(opts.out, sdl);
    else process.stdout.write(sdl);
  });

registerApiCommands(program);
exitUsageErrorsWith2(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`flint: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
