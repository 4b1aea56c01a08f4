/** The one registry of message kinds (src/bus/contract/registry.ts) and the contract folder's boundary. */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATTACHMENT_COMMAND, BACKUP_COMMAND, COMMAND, commandOf, kindsOf, MANAGE_COMMAND, MESSAGES, MIGRATION_COMMAND, RETYPE_COMMAND, type CommandKind } from '../../../src/bus/index.js';
import { EVENT_SPECS } from '../../../src/gateway/outcomes/senders.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

test('the kinds on the wire are the ones older builds send: renaming one is a contract change', (t) => {
  t.deepEqual(Object.keys(MESSAGES).sort(), [
    'agent.create_backup',
    'agent.create_snapshot',
    'agent.create_volume',
    'agent.delete_backup',
    'agent.delete_snapshot',
    'agent.delete_volume',
    'agent.export_attachment',
    'agent.extend_volume',
    'agent.import_backup',
    'agent.manage_volume',
    'agent.migration_cleanup',
    'agent.migration_export',
    'agent.migration_import',
    'agent.refresh_attachment',
    'agent.restore_backup',
    'agent.revert_volume',
    'agent.unexport_attachment',
    'agent.unmanage_volume',
    'agent.verify_backup',
    'attachment.outcome',
    'backup.outcome',
    'backup.progress',
    'backup.verified',
    'gw.token.revoked',
    'live.attachment',
    'live.backup',
    'live.message',
    'live.operation',
    'live.snapshot',
    'live.volume',
    'migration.cleaned',
    'migration.copied',
    'migration.exporting',
    'migration.failed',
    'migration.progress',
    'pool.stats',
    'retype.decided',
    'rpc.manageable.reply',
    'rpc.manageable.request',
    'rpc.reconcile.reply',
    'rpc.reconcile.request',
    'scheduler.create_volume',
    'scheduler.extend_volume',
    'scheduler.retype_volume',
    'service.heartbeat',
    'snapshot.outcome',
    'volume.manage_outcome',
    'volume.missing',
    'volume.outcome',
    'volume.reschedule',
    'volume.scheduled',
  ]);
});

test('a command is named by its kind after the family prefix, and its family is that prefix', (t) => {
  t.is(commandOf('agent.create_volume'), 'create_volume');
  t.is(commandOf('scheduler.retype_volume'), 'retype_volume');
  for (const kind of kindsOf('cmd.agent')) t.true(kind.startsWith('agent.'), kind);
  for (const kind of kindsOf('cmd.scheduler')) t.true(kind.startsWith('scheduler.'), kind);
});

test('every command name the roles use is the name of a registered command', (t) => {
  const names = new Set([...kindsOf('cmd.agent'), ...kindsOf('cmd.scheduler')].map((k: CommandKind) => commandOf(k)));
  for (const name of [...Object.values(COMMAND), ...Object.values(ATTACHMENT_COMMAND), ...Object.values(BACKUP_COMMAND), ...Object.values(MIGRATION_COMMAND), ...Object.values(MANAGE_COMMAND), RETYPE_COMMAND]) {
    t.true(names.has(name), name);
  }
});

test('the registry says of each event what the gateway\'s sender check says', (t) => {
  const fromRegistry = kindsOf('evt').map((kind) => {
    const { resource, idField, from } = MESSAGES[kind];
    return [kind, { resource, idField, from: [...from] }] as const;
  });
  const fromGateway = Object.entries(EVENT_SPECS).map(([kind, s]) => [kind, { resource: s.resource, idField: s.idField, from: [...s.from] }] as const);
  const byKind = (a: readonly [string, unknown], b: readonly [string, unknown]): number => a[0].localeCompare(b[0]);
  t.deepEqual(fromRegistry.sort(byKind), fromGateway.sort(byKind));
});

test('the bus contract imports only zod, src/domain and itself', (t) => {
  const dir = join(ROOT, 'src/bus/contract');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    for (const [, spec] of source.matchAll(/\bfrom\s+'([^']+)'/g)) {
      t.true(spec === 'zod' || spec!.startsWith('./') || spec!.startsWith('../../domain/'), `${file} imports ${spec}`);
    }
  }
});
