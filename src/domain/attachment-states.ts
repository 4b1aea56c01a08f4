/**
 * The attachment state machine (Cinder's v3 attachments), in the style of
 * `volume-states.ts`: each action and outcome names the states it starts from, the
 * database applies it as a compare-and-set. Also the rules that tie attachments to
 * their volume: the volume's status is computed from its attachments
 * (`volumeStatusFromAttachments`), and a second attachment needs a multiattach volume.
 *
 * Life of an attachment:
 * ```
 * createAttachment (no connector) ─▶ RESERVED ─updateAttachment(connector)─┐
 * createAttachment (connector) ─────────────────────────────────────────────┴▶ ATTACHING
 *   ATTACHING ─ agent exported (connectionInfo set) ─▶ ATTACHING ─completeAttachment─▶ ATTACHED
 *   ATTACHING ─ export failed / no answer before the deadline ─▶ ERROR_ATTACHING
 *   any but DETACHED ─deleteAttachment─▶ DETACHING ─ export removed ─▶ DETACHED (final)
 *                                         DETACHING ─ removal failed ─▶ ERROR_DETACHING
 *   RESERVED (nothing exported) ─deleteAttachment─▶ DETACHED at once
 * ```
 */
import { refusedTransition, InvalidStateError } from './errors.js';
import type { VolumeStatus } from './volume-states.js';

export const ATTACHMENT_STATUSES = ['reserved', 'attaching', 'attached', 'detaching', 'detached', 'error_attaching', 'error_detaching'] as const;
export type AttachmentStatus = (typeof ATTACHMENT_STATUSES)[number];

export const ATTACH_MODES = ['rw', 'ro'] as const;
export type AttachMode = (typeof ATTACH_MODES)[number];

export const TARGET_KINDS = ['iscsi', 'nbd'] as const;
export type AttachTargetKind = (typeof TARGET_KINDS)[number];

/** States in which the agent is working on the attachment. */
export const ATTACHMENT_TRANSITIONAL: readonly AttachmentStatus[] = ['attaching', 'detaching'];

/** Every state but DETACHED: the attachment still holds its volume. */
export const LIVE_ATTACHMENT_STATUSES: readonly AttachmentStatus[] = ATTACHMENT_STATUSES.filter((s) => s !== 'detached');

interface AttachmentTransition {
  readonly from: readonly AttachmentStatus[];
  /** `null` keeps the status. */
  readonly to: AttachmentStatus | null;
  readonly verb: string;
}

export const ATTACHMENT_ACTIONS = {
  /** Give a RESERVED attachment its connector: the export starts. */
  update: { from: ['reserved'], to: 'attaching', verb: 'given a connector' },
  /** The consumer says it is connected (Cinder's attachment_complete); the export must be ready. */
  complete: { from: ['attaching'], to: 'attached', verb: 'completed' },
  /** Remove the export (if any) and release the volume. */
  delete: { from: ['reserved', 'attaching', 'attached', 'error_attaching', 'error_detaching'], to: 'detaching', verb: 'deleted' },
  /** Admins: like delete, also from DETACHING (sends the removal again). */
  forceDetach: {
    from: ['reserved', 'attaching', 'attached', 'detaching', 'error_attaching', 'error_detaching'],
    to: 'detaching',
    verb: 'force-detached',
  },
} as const satisfies Record<string, AttachmentTransition>;
export type AttachmentAction = keyof typeof ATTACHMENT_ACTIONS;

export const ATTACHMENT_OUTCOMES = {
  /** The agent exported the volume: the attachment keeps ATTACHING and gets its connection info. */
  'export.succeeded': { from: ['attaching'], to: null, verb: 'marked exported' },
  'export.failed': { from: ['attaching'], to: 'error_attaching', verb: 'marked failed to export' },
  'unexport.succeeded': { from: ['detaching'], to: 'detached', verb: 'marked detached' },
  'unexport.failed': { from: ['detaching'], to: 'error_detaching', verb: 'marked failed to detach' },
  /** An export that never answered (the operation's deadline). */
  'export.timeout': { from: ['attaching'], to: 'error_attaching', verb: 'marked failed to export' },
  'unexport.timeout': { from: ['detaching'], to: 'error_detaching', verb: 'marked failed to detach' },
} as const satisfies Record<string, AttachmentTransition>;
export type AttachmentOutcome = keyof typeof ATTACHMENT_OUTCOMES;

export function attachmentInvalidState(t: AttachmentTransition, current: AttachmentStatus, attachmentId?: string): InvalidStateError {
  const busy = ATTACHMENT_TRANSITIONAL.includes(current);
  return refusedTransition(attachmentId ? `Attachment ${attachmentId}` : 'The attachment', current, t.verb, t.from, busy);
}

/** Checks that `action` may start from `current`; returns the target status. */
export function assertAttachmentCanStart(action: AttachmentAction, current: AttachmentStatus, attachmentId?: string): AttachmentStatus {
  const t: AttachmentTransition = ATTACHMENT_ACTIONS[action];
  if (!t.from.includes(current)) throw attachmentInvalidState(t, current, attachmentId);
  return t.to ?? current;
}

/**
 * Whether `completeAttachment` may run: ATTACHING with its export ready (connection
 * info known). An ATTACHED attachment completes again without change (idempotent).
 * @returns `'noop'` for an already ATTACHED attachment.
 * @throws InvalidStateError naming what to wait for.
 */
export function checkComplete(a: { id: string; status: AttachmentStatus; exported: boolean }): 'complete' | 'noop' {
  if (a.status === 'attached') return 'noop';
  assertAttachmentCanStart('complete', a.status, a.id);
  if (!a.exported) {
    throw new InvalidStateError(
      `Attachment ${a.id} is ATTACHING but its export is not ready yet (connectionInfo is null). ` +
        'Wait for `attachmentChanged` (or its operation) to show the connection info, connect with it, then complete.',
      { currentStatus: 'ATTACHING', allowedStatuses: ['ATTACHING'] },
    );
  }
  return 'complete';
}

/** What deleting an attachment does: `detach` at once (nothing was exported) or `unexport` through the agent. */
export function deletePlan(a: { status: AttachmentStatus; hasHost: boolean; exportRequested: boolean }): 'detach' | 'unexport' {
  if (a.status === 'reserved' || !a.hasHost || !a.exportRequested) return 'detach';
  return 'unexport';
}

/** Volume states an attachment's changes move the volume between. */
export const ATTACH_FAMILY: readonly VolumeStatus[] = ['available', 'reserved', 'attaching', 'in_use', 'detaching'];

/**
 * The volume's status from its attachments (Cinder's way): IN_USE when one is ATTACHED,
 * else ATTACHING or DETACHING while one is, else RESERVED while one still holds the
 * volume (RESERVED, or an ERROR_* one to delete), else AVAILABLE.
 * Only for a volume in the attach family: others (EXTENDING, …) keep their status.
 */
export function volumeStatusFromAttachments(current: VolumeStatus, attachments: readonly AttachmentStatus[]): VolumeStatus {
  if (!ATTACH_FAMILY.includes(current)) return current;
  if (attachments.includes('attached')) return 'in_use';
  if (attachments.includes('attaching')) return 'attaching';
  if (attachments.includes('detaching')) return 'detaching';
  if (attachments.some((s) => s === 'reserved' || s === 'error_attaching' || s === 'error_detaching')) return 'reserved';
  return 'available';
}

/** What a volume's extra spec `multiattach` says, as Cinder reads it (`"<is> True"`). */
export function multiattachFromExtraSpecs(extraSpecs: Readonly<Record<string, string>> | null | undefined): boolean {
  const v = extraSpecs?.multiattach;
  if (v === undefined) return false;
  return /^\s*(<is>\s*)?true\s*$/i.test(v);
}

/**
 * Whether a new attachment may be made of a volume now.
 * @throws InvalidStateError: the volume is not in a state to attach, or it is attached
 * already and not multiattach (naming the attachments that hold it).
 */
export function checkNewAttachment(
  volume: { id: string; status: VolumeStatus; multiattach: boolean; hasPool: boolean },
  live: ReadonlyArray<{ id: string; status: AttachmentStatus }>,
): void {
  const allowed: readonly VolumeStatus[] = volume.multiattach ? ATTACH_FAMILY : ['available'];
  if (!allowed.includes(volume.status) || !volume.hasPool) {
    if (!volume.multiattach && live.length > 0) throw notMultiattach(volume.id, live);
    throw refusedTransition(`Volume ${volume.id}`, volume.status, 'attached', allowed, ['creating', 'extending', 'deleting', 'reverting'].includes(volume.status));
  }
  if (!volume.multiattach && live.length > 0) throw notMultiattach(volume.id, live);
}

function notMultiattach(volumeId: string, live: ReadonlyArray<{ id: string; status: AttachmentStatus }>): InvalidStateError {
  const list = live.map((a) => `${a.id} (${a.status.toUpperCase()})`).join(', ');
  return new InvalidStateError(
    `Volume ${volumeId} is already attached (attachments: ${list}) and is not multiattach. ` +
      'Delete that attachment first, or use a volume created with `multiattach: true` (or of a volume type with extra spec multiattach="<is> True").',
    { attachmentIds: live.map((a) => a.id), multiattach: false },
  );
}

/** The error for deleting a volume that still has attachments. */
export function volumeHasAttachments(volumeId: string, live: ReadonlyArray<{ id: string; status: AttachmentStatus }>): InvalidStateError {
  const list = live.map((a) => `${a.id} (${a.status.toUpperCase()})`).join(', ');
  return new InvalidStateError(
    `Volume ${volumeId} has ${live.length} attachment${live.length === 1 ? '' : 's'} not DETACHED: ${list}. Delete them (deleteAttachment) first; an admin can forceDetach one that is stuck.`,
    { attachmentIds: live.map((a) => a.id) },
  );
}
