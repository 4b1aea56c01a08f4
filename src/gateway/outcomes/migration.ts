/** The recorder's delegate for migration and retype events (see volume-migration.ts and volume-retype.ts). */
import {
  decodePayload,
  migrationCleaned,
  migrationCopied,
  migrationExporting,
  migrationFailed,
  MIGRATION_KIND,
  retypeDecided,
  RETYPE_KIND,
  type Envelope,
} from '../../bus/index.js';
import type { MigrationRecorderDeps } from '../mutations/volume-migration.js';
import { applyCleaned, applyCopied, applyExporting, applyFailed } from './migration-steps.js';
import { applyRetypeDecided } from './retype.js';

/** Applies the event if it is one of migration's or retype's; returns false for any other kind. */
export async function applyMigrationEvent(d: MigrationRecorderDeps, env: Envelope<unknown>): Promise<boolean> {
  switch (env.kind) {
    case MIGRATION_KIND.exporting:
      await applyExporting(d, decodePayload(env, migrationExporting));
      return true;
    case MIGRATION_KIND.copied:
      await applyCopied(d, decodePayload(env, migrationCopied));
      return true;
    case MIGRATION_KIND.failed:
      await applyFailed(d, decodePayload(env, migrationFailed));
      return true;
    case MIGRATION_KIND.cleaned:
      await applyCleaned(d, decodePayload(env, migrationCleaned));
      return true;
    case RETYPE_KIND.decided:
      await applyRetypeDecided(d, decodePayload(env, retypeDecided));
      return true;
    default:
      return false;
  }
}
