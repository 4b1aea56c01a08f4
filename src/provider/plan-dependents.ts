/**
 * The plan of a stack's snapshots and attachments: each hangs on a volume of the stack, so
 * each is replaced when its volume is, and must be gone before its volume goes. Snapshots are
 * found by their labels, as volumes are; attachments by the key `flint apply` made them with,
 * or else by what identifies an attachment (volume, instanceId, connector host), so one made
 * by hand is adopted rather than made twice. Pure.
 */
import { ATTACHMENT_MODEL, rulesOf, SNAPSHOT_MODEL } from '../domain/resources/index.js';
import { diffFields, same, show } from './diff.js';
import { ownerOfKey } from './keys.js';
import { labelsFor } from './labels.js';
import { byLabel, claimedTwice, GONE, type VolumeFates } from './plan-common.js';
import type { ActualAttachment, ActualSnapshot, AttachmentChange, DesiredAttachment, DesiredSnapshot, FieldChange, Plan, SnapshotChange } from './plan-types.js';
import { STACK_SNAPSHOT_FIELDS, type Stack } from './stack-schema.js';

const SNAPSHOT_RULES = rulesOf(SNAPSHOT_MODEL);
const ATTACHMENT_RULES = rulesOf(ATTACHMENT_MODEL);
/** The attachment fields compared one by one (the connector is compared by the keys the file sets). */
const ATTACHMENT_FIELDS = ['instanceId', 'mode', 'targetKind'];

/** Each snapshot of `stack` as it should be: name defaulted, labels added. */
export function desiredSnapshots(stack: Stack): DesiredSnapshot[] {
  return Object.entries(stack.snapshots ?? {}).map(([resource, spec]) => ({
    ...spec,
    resource,
    name: spec.name ?? `${stack.stack}-${resource}`,
    description: spec.description ?? null,
    metadata: { ...spec.metadata, ...labelsFor(stack.stack, resource) },
  }));
}

/** Each attachment of `stack` as it should be. */
export function desiredAttachments(stack: Stack): DesiredAttachment[] {
  return Object.entries(stack.attachments ?? {}).map(([resource, spec]) => ({ ...spec, resource }));
}

/** Why a resource of volume `volume` must be made again, when the volume it hangs on is not the one it has. */
function volumeReason(volume: string, fates: VolumeFates, actualVolumeId: string): string | null {
  const id = fates.keptIds.get(volume);
  if (id === undefined) return `its volume volume.${volume} is new (created or replaced)`;
  return actualVolumeId === id ? null : `volume changed (createOnly): it is of volume ${actualVolumeId}, not of volume.${volume} (${id})`;
}

/** A plan error for a resource that is kept (not pruned) but whose volume goes: the volume could not go. */
function blocksItsVolume(plan: Plan, fates: VolumeFates, what: string, volumeId: string, fix: string): void {
  const leaving = fates.leaving.get(volumeId);
  if (!leaving) return;
  plan.errors.push(`volume.${leaving.resource} must be ${leaving.replaced ? 'replaced' : 'deleted'}, but ${what}: ${fix}`);
}

export function planSnapshots(stack: Stack, actual: readonly ActualSnapshot[], fates: VolumeFates, plan: Plan, prune: boolean): SnapshotChange[] {
  const changes: SnapshotChange[] = [];
  const found = byLabel(stack.stack, actual);
  for (const [resource, ss] of found) if (ss.length > 1) plan.errors.push(claimedTwice('snapshot', resource, ss.map((s) => s.id)));
  for (const desired of desiredSnapshots(stack)) {
    const resource = desired.resource;
    const ss = found.get(resource);
    if (!ss) {
      changes.push({ kind: 'snapshot', action: 'create', resource, desired });
      continue;
    }
    if (ss.length > 1) continue;
    const current = ss[0]!;
    const diff = diffFields(`snapshot.${resource}`, SNAPSHOT_RULES, STACK_SNAPSHOT_FIELDS, desired, current);
    const moved = volumeReason(desired.volume, fates, current.volumeId);
    const reasons = [...(moved ? [moved] : []), ...diff.reasons];
    plan.errors.push(...diff.errors);
    if (reasons.length) changes.push({ kind: 'snapshot', action: 'replace', resource, actual: current, desired, reasons });
    else if (diff.fields.length) changes.push({ kind: 'snapshot', action: 'update', resource, actual: current, desired, fields: diff.fields });
    else if (!diff.errors.length) plan.unchanged.push(`snapshot.${resource}`);
  }
  for (const [resource, ss] of found) {
    if (resource in (stack.snapshots ?? {})) continue;
    for (const s of ss) {
      if (prune) changes.push({ kind: 'snapshot', action: 'delete', resource, actual: s, reasons: ['not in the stack file (--prune)'] });
      else {
        plan.kept.push({ kind: 'snapshot', resource, id: s.id });
        blocksItsVolume(plan, fates, `snapshot.${resource} [id=${s.id}], no longer in the file and kept, is a snapshot of it`, s.volumeId, 'run with --prune to delete it too, or declare it again');
      }
    }
  }
  return changes;
}

/** Whether `actual`'s connector has every value `desired` sets. */
function connectorMatches(desired: DesiredAttachment['connector'], actual: ActualAttachment['connector']): boolean {
  if (!actual) return false;
  return Object.entries(desired).every(([k, v]) => v === undefined || same((actual as unknown as Record<string, unknown>)[k], v));
}

/** The attachments of the stack made by `flint apply`, by resource name (from their keys). */
function ownedAttachments(stack: string, live: readonly ActualAttachment[]): Map<string, ActualAttachment[]> {
  const owned = new Map<string, ActualAttachment[]>();
  for (const a of live) {
    const owner = ownerOfKey(a.idempotencyKey);
    if (owner?.stack === stack) owned.set(owner.name, [...(owned.get(owner.name) ?? []), a]);
  }
  return owned;
}

export function planAttachments(stack: Stack, actual: readonly ActualAttachment[], fates: VolumeFates, plan: Plan, prune: boolean): AttachmentChange[] {
  const changes: AttachmentChange[] = [];
  const live = actual.filter((a) => !GONE.has(a.status));
  const owned = ownedAttachments(stack.stack, live);
  const ownedIds = new Set([...owned.values()].flat().map((a) => a.id));
  const matched = new Set<string>();
  for (const [resource, as] of owned) if (as.length > 1) plan.errors.push(claimedTwice('attachment', resource, as.map((a) => a.id)));
  for (const desired of desiredAttachments(stack)) {
    const resource = desired.resource;
    const volumeId = fates.keptIds.get(desired.volume);
    // One made by hand for the same consumer is adopted: createAttachment would answer with it anyway.
    const byHand = () => live.filter((a) => !ownedIds.has(a.id) && !matched.has(a.id) && a.volumeId === volumeId && a.instanceId === desired.instanceId && a.connector?.host === desired.connector.host);
    const as = owned.get(resource) ?? byHand().slice(0, 1);
    if (!as.length) {
      changes.push({ kind: 'attachment', action: 'create', resource, desired });
      continue;
    }
    if (as.length > 1) continue;
    const current = as[0]!;
    matched.add(current.id);
    const diff = diffFields(`attachment.${resource}`, ATTACHMENT_RULES, ATTACHMENT_FIELDS, desired, current);
    const moved = volumeReason(desired.volume, fates, current.volumeId);
    const reasons = [...(moved ? [moved] : []), ...diff.reasons];
    const fields: FieldChange[] = [];
    if (!connectorMatches(desired.connector, current.connector)) {
      if (current.status === 'RESERVED' && current.connector === null) fields.push({ field: 'connector', from: null, to: desired.connector, mutation: 'updateAttachment' });
      else reasons.push(`connector changed: ${show(current.connector)} → ${show(desired.connector)} (updateAttachment gives only a RESERVED attachment its connector, once)`);
    }
    if (reasons.length) changes.push({ kind: 'attachment', action: 'replace', resource, actual: current, desired, reasons });
    else if (fields.length) changes.push({ kind: 'attachment', action: 'update', resource, actual: current, desired, fields });
    else plan.unchanged.push(`attachment.${resource}`);
  }
  for (const [resource, as] of owned) {
    if (resource in (stack.attachments ?? {})) continue;
    for (const a of as) {
      if (prune) changes.push({ kind: 'attachment', action: 'delete', resource, actual: a, reasons: ['not in the stack file (--prune)'] });
      else {
        plan.kept.push({ kind: 'attachment', resource, id: a.id });
        blocksItsVolume(plan, fates, `attachment.${resource} [id=${a.id}], no longer in the file and kept, attaches it`, a.volumeId, 'run with --prune to detach it too, or declare it again');
      }
    }
  }
  for (const a of live) {
    if (ownedIds.has(a.id) || matched.has(a.id)) continue;
    blocksItsVolume(plan, fates, `it is attached to instance ${a.instanceId} (attachment ${a.id}, not made by this stack)`, a.volumeId, 'detach it first (flint attachment delete), or declare it in the stack file');
  }
  return changes;
}
