/**
 * The API commands of `flint` (volume, snapshot, pool, service, volume-type, operation, quota): SDK
 * clients of a running gateway, as opposed to the roles that run Flint itself.
 */
import type { Command, CommanderError } from 'commander';
import { registerClusterCommands } from './cluster.js';
import { addGlobalOptions } from './context.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { registerSnapshotCommands } from './snapshot.js';
import { registerAttachmentCommands } from './attachment.js';
import { registerBackupCommands } from './backup.js';
import { registerVolumeCommands } from './volume.js';
import { registerQuotaCommands } from './quota.js';
import { registerStackCommands } from './stack.js';

export { EXIT, exitCodeFor } from './exit-codes.js';
export { stackFileArgs } from './stack-args.js';

/** Adds the global options, the API commands and the exit codes to `flint --help`. */
export function registerApiCommands(program: Command): void {
  addGlobalOptions(program);
  registerVolumeCommands(program);
  registerSnapshotCommands(program);
  registerAttachmentCommands(program);
  registerBackupCommands(program);
  registerClusterCommands(program);
  registerQuotaCommands(program);
  registerStackCommands(program);
  program.addHelpText('after', EXIT_CODES_HELP);
}

/**
 * Makes every commander usage error (unknown option, missing argument, bad value,
 * bad choice, a group called without a subcommand) exit 2 instead of commander's 1,
 * on `program` and all its subcommands; help and version still exit 0. Call it after
 * every command is registered.
 */
export function exitUsageErrorsWith2(program: Command): void {
  const onExit = (err: CommanderError): never => process.exit(err.exitCode === 0 ? 0 : EXIT.USAGE);
  const visit = (cmd: Command): void => {
    cmd.exitOverride(onExit);
    cmd.commands.forEach(visit);
  };
  visit(program);
}
