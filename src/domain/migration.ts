/**
 * Migration (Cinder's migrate, and retype with a migration), pure: the progress values of
 * `Volume.migrationStatus`, which of them a step may start from, the stages a failure is
 * reported from, and the words of the user messages. The gateway applies every step as a
 * compare-and-set on (status, migrationStatus).
 */
import type { VolumeStatus } from './volume-states.js';

/**
 * `starting`: the gateway committed the migration and asked the source to export the image;
 * `copying`: the source serves it over NBD and the destination copies it;
 * `success`: the volume lives on the new pool; `error`: it stayed on its old pool.
 * `null` (no value) when the volume was never migrated.
 */
export const MIGRATION_STATUSES = ['starting', 'copying', 'success', 'error'] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

/** Migration statuses of a migration in progress: a volume holding one is MAINTENANCE or RETYPING. */
export const MIGRATION_RUNNING: readonly MigrationStatus[] = ['starting', 'copying'];

/** Volume states a migration runs in: MAINTENANCE (migrateVolume) or RETYPING (retypeVolume with ON_DEMAND). */
export const MIGRATING_VOLUME_STATUSES: readonly VolumeStatus[] = ['maintenance', 'retyping'];

/** Where a migration failed. */
export const MIGRATION_STAGES = ['export', 'import', 'deadline'] as const;
export type MigrationStage = (typeof MIGRATION_STAGES)[number];

/** The step of a migration and the migration statuses it may start from. */
export const MIGRATION_STEPS = {
  /** The source serves the image: the destination may copy it. */
  exporting: { from: ['starting'] },
  /** The copy is verified on the destination: switch the volume over. */
  copied: { from: ['copying'] },
  /** Anything failed (or the deadline passed): back on the old pool. */
  failed: { from: ['starting', 'copying'] },
} as const satisfies Record<string, { from: readonly MigrationStatus[] }>;
export type MigrationStep = keyof typeof MIGRATION_STEPS;

export function migrationStepFrom(step: MigrationStep): readonly MigrationStatus[] {
  return MIGRATION_STEPS[step].from;
}

/** The GraphQL enum spells them in upper case. */
export function toApiMigrationStatus(s: MigrationStatus | null): string | null {
  return s === null ? null : s.toUpperCase();
}

/** A pool as users name it, `host@pool`. */
function at(host: string, pool: string): string {
  return `${host}@${pool}`;
}

/**
 * The user message of a failed migration: what failed, why, what to do. The volume is
 * AVAILABLE on its old pool with its old bytes whatever the stage.
 */
export function migrationFailureMessage(m: {
  volumeId: string;
  from: { host: string; pool: string };
  to: { host: string; pool: string };
  stage: MigrationStage;
  reason: string;
  retype?: string | null;
}): string {
  const what = m.retype
    ? `Retyping volume ${m.volumeId} to type ${m.retype} needed a migration from ${at(m.from.host, m.from.pool)} to ${at(m.to.host, m.to.pool)}, which failed`
    : `Migrating volume ${m.volumeId} from ${at(m.from.host, m.from.pool)} to ${at(m.to.host, m.to.pool)} failed`;
  const where =
    m.stage === 'export'
      ? ' while the source exported the image'
      : m.stage === 'import'
        ? ' while the destination copied the image'
        : ', because no agent finished it in time';
  const advice =
    m.stage === 'deadline'
      ? 'Check `flint service list` for an agent that is DOWN, start it, and migrate again.'
      : m.stage === 'import'
        ? 'Check the destination pool (free space, directory, agent log) and migrate again, or choose another pool.'
        : 'Check the source agent\'s log (qemu-nbd, the image) and migrate again.';
  return `${what}${where}: ${m.reason}. The volume is AVAILABLE on its old pool with its data unchanged, and nothing was left on the destination. ${advice}`;
}
