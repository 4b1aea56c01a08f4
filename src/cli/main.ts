/** `flint <command>`: every role and tool of Flint behind one CLI. */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { printFlintSchema } from '../resolvers/index.js';
import { flintVersion } from '../config/index.js';
import { runDev } from './dev.js';
import { runAgent, runGateway, runMigrate, runScheduler } from './roles.js';
import { runTokenCreate } from './token.js';

const program = new Command('flint')
  .description('Flint: block-storage control plane (GraphQL gateway, scheduler, node agents over NATS)')
  .version(flintVersion())
  .showHelpAfterError();

program.command('dev').description('run everything on this machine: nats-server, SQLite, gateway, scheduler and one agent').action(runDev);
program.command('gateway').description('run the GraphQL gateway (needs FLINT_NATS_URL and FLINT_DATABASE_URL)').action(runGateway);
program.command('scheduler').description('run a scheduler (needs FLINT_NATS_URL and FLINT_DATABASE_URL)').action(runScheduler);
program.command('agent').description('run the storage agent of this host (needs FLINT_NATS_URL; pools from FLINT_POOLS)').action(runAgent);
program.command('migrate').description('bring the database schema up to date').action(runMigrate);

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('create a token (and its project when new) and print it')
  .requiredOption('--project <name>', 'project the token belongs to')
  .option('--role <role>', 'admin, member or reader', 'member')
  .option('--name <name>', 'a label for the token')
  .option('--json', 'print JSON with the project id too')
  .action(runTokenCreate);

program
  .command('schema')
  .description('print the GraphQL schema (SDL)')
  .option('--out <file>', 'write to a file instead of stdout')
  .action(async (opts: { out?: string }) => {
    const sdl = await printFlintSchema();
    if (opts.out) writeFileSync(opts.out, sdl);
    else process.stdout.write(sdl);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`flint: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
