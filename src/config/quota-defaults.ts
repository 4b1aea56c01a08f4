/**
 * FLINT_QUOTA_DEFAULTS (issue 12): the quota limits of every project an admin has not given
 * limits of its own. JSON, inline or in a file: `{"volumes": 20, "gigabytes": 2000,
 * "volumeTypes": {"gold": {"gigabytes": 100}}}`. Keys left out keep Cinder's defaults
 * (src/domain/quotas.ts); -1 is no limit.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_QUOTA_LIMITS, limitProblems, PROJECT_LIMITS, TYPE_RESOURCES, type QuotaLimits } from '../domain/quotas.js';

export const QUOTA_ENV = {
  FLINT_QUOTA_DEFAULTS:
    'quota limits of projects without limits of their own: JSON (inline, or the path of a JSON file) with any of volumes, gigabytes, snapshots, backups, backupGigabytes, perVolumeGigabytes and volumeTypes: {"<type>": {"volumes", "gigabytes"}}; -1 is no limit (default Cinder\'s: 10 volumes, 1000 gigabytes, 10 snapshots, 10 backups, 1000 backupGigabytes, no perVolumeGigabytes limit)',
} as const;

/** Parses the setting (inline JSON when it starts with `{`, else a file), adding what is wrong to `problems`. */
export function parseQuotaDefaults(raw: string | object | undefined, cwd: string, problems: string[]): QuotaLimits {
  if (raw === undefined || raw === '') return DEFAULT_QUOTA_LIMITS;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw.trimStart().startsWith('{') ? raw : readFileSync(resolve(cwd, raw), 'utf8'));
    } catch (err) {
      problems.push(`FLINT_QUOTA_DEFAULTS: inline JSON or a JSON file's path (${(err as Error).message})`);
      return DEFAULT_QUOTA_LIMITS;
    }
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    problems.push('FLINT_QUOTA_DEFAULTS: a JSON object, e.g. {"gigabytes": 2000}');
    return DEFAULT_QUOTA_LIMITS;
  }
  const { volumeTypes, ...limits } = value as Record<string, unknown>;
  const found: string[] = [];
  for (const key of Object.keys(limits)) if (!(PROJECT_LIMITS as readonly string[]).includes(key)) found.push(`FLINT_QUOTA_DEFAULTS: unknown limit "${key}"; known: ${PROJECT_LIMITS.join(', ')}, volumeTypes`);
  found.push(...limitProblems('FLINT_QUOTA_DEFAULTS: ', limits));
  const types: Record<string, Partial<Record<'volumes' | 'gigabytes', number>>> = {};
  if (volumeTypes !== undefined) {
    if (!volumeTypes || typeof volumeTypes !== 'object' || Array.isArray(volumeTypes)) found.push('FLINT_QUOTA_DEFAULTS: volumeTypes must be an object of type name → {"volumes", "gigabytes"}');
    else
      for (const [type, l] of Object.entries(volumeTypes as Record<string, unknown>)) {
        if (!l || typeof l !== 'object' || Array.isArray(l)) {
          found.push(`FLINT_QUOTA_DEFAULTS: volumeTypes.${type} must be an object with volumes and/or gigabytes`);
          continue;
        }
        for (const key of Object.keys(l)) if (!(TYPE_RESOURCES as readonly string[]).includes(key)) found.push(`FLINT_QUOTA_DEFAULTS: volumeTypes.${type}: unknown limit "${key}"; known: ${TYPE_RESOURCES.join(', ')}`);
        found.push(...limitProblems(`FLINT_QUOTA_DEFAULTS: volumeTypes.${type}.`, l as Record<string, unknown>));
        types[type] = l as Record<'volumes' | 'gigabytes', number>;
      }
  }
  problems.push(...found);
  if (found.length > 0) return DEFAULT_QUOTA_LIMITS;
  return { ...DEFAULT_QUOTA_LIMITS, ...(limits as Partial<QuotaLimits>), volumeTypes: types };
}
