/**
 * Backup policies, kept by `flint apply`: Flint has no backup schedule of its own, so a
 * policy (`backupPolicy: { every: 1d, keep: 7 }`) is what each apply makes true — a backup
 * when the newest of the volume's policy backups is `every` old or more (or there is none),
 * and the AVAILABLE ones beyond the newest `keep` deleted (a failed one too). Run apply from
 * a timer and the policy holds. Only backups the policy made (by their keys) are counted or
 * deleted, and only of the volume the stack has now: a replaced volume's backups are kept. Pure.
 */
import { formatDuration, parseDuration } from './duration.js';
import { ownerOfKey } from './keys.js';
import { GONE, type VolumeFates } from './plan-common.js';
import type { ActualBackup, BackupChange, Plan } from './plan-types.js';
import type { Stack } from './stack-schema.js';

/** `2026-12-07T00:00Z`: the start of a policy's period, as backup names carry it. */
function windowName(window: number): string {
  return `${new Date(window * 1000).toISOString().slice(0, 16)}Z`;
}

/** The backups the policy of `stack`'s volume `volume` (now `volumeId`) made, newest first. */
function policyBackups(stack: string, volume: string, volumeId: string, all: readonly ActualBackup[]): ActualBackup[] {
  return all
    .filter((b) => {
      const owner = ownerOfKey(b.idempotencyKey);
      return b.volumeId === volumeId && owner?.stack === stack && owner.name === volume && owner.rest[0] === 'backup' && !GONE.has(b.status);
    })
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

export function planBackups(stack: Stack, actual: readonly ActualBackup[], fates: VolumeFates, plan: Plan, now: number): BackupChange[] {
  const changes: BackupChange[] = [];
  for (const [resource, spec] of Object.entries(stack.volumes)) {
    const policy = spec.backupPolicy;
    if (!policy) continue;
    const every = parseDuration(policy.every)!;
    const volumeId = fates.keptIds.get(resource);
    const mine = volumeId === undefined ? [] : policyBackups(stack.stack, resource, volumeId, actual);
    const current = mine.filter((b) => b.status === 'AVAILABLE' || b.status === 'CREATING');
    const newest = current[0];
    const age = newest ? (now - Date.parse(newest.createdAt)) / 1000 : null;
    let reason: string | null = null;
    if (volumeId === undefined) reason = `volume.${resource} is new: its first backup`;
    else if (!newest) reason = 'no backup yet';
    else if (newest.status !== 'CREATING' && age! >= every) reason = `the newest is ${formatDuration(age!)} old (every ${policy.every})`;
    if (reason) {
      const window = Math.floor(now / 1000 / every) * every;
      const desired = { resource, volume: resource, name: `${stack.stack}-${resource}-${windowName(window)}`, incremental: policy.incremental ?? false, force: policy.force ?? false, window };
      changes.push({ kind: 'backup', action: 'create', resource, desired, reasons: [reason] });
    } else plan.unchanged.push(`backup.${resource}`);
    // The one taken now counts among those kept (its delete waits for it: ./apply.ts).
    const available = current.filter((b) => b.status === 'AVAILABLE');
    for (const b of available.slice(reason ? policy.keep - 1 : policy.keep)) {
      changes.push({ kind: 'backup', action: 'delete', resource, actual: b, reasons: [`older than the newest ${policy.keep} (keep: ${policy.keep})`] });
    }
    for (const b of mine.filter((x) => x.status === 'ERROR')) {
      changes.push({ kind: 'backup', action: 'delete', resource, actual: b, reasons: ['it failed (ERROR)'] });
    }
  }
  return changes;
}
