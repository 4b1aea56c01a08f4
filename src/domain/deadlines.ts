/**
 * Recovery rules (issue 3, "no stuck states"), pure: what the gateway's deadline sweeper
 * does with an operation nobody finished in time, how the recorder treats an outcome
 * that arrives after that, and which volumes an agent's start-up reconciliation expects
 * to find on disk. The database applies every rule as a compare-and-set.
 */
import type { ErrorCode } from './errors.js';
import type { OperationKind } from './operations.js';
import type { SnapshotStatus } from './snapshot-states.js';
import type { VolumeStatus } from './volume-states.js';

/**
 * The error code of an operation failed by its deadline: a service did not answer in time,
 * so it is retryable (`isRetryable`) once the resource's error state is cleaned up.
 */
export const DEADLINE_ERROR_CODE = 'SERVICE_UNAVAILABLE' satisfies ErrorCode;

/** When an operation created at `createdAt` is given up. */
export function operationDeadline(createdAt: Date, timeoutSeconds: number): Date {
  return new Date(createdAt.getTime() + timeoutSeconds * 1000);
}

/** How often a gateway looks for operations past their deadline: timeout / 30, from 1 s to 30 s. */
export function sweepIntervalMs(timeoutSeconds: number): number {
  return Math.min(30_000, Math.max(1_000, Math.round((timeoutSeconds * 1000) / 30)));
}

export type DeadlineRule =
  | {
      readonly resourceType: 'volume';
      readonly from: readonly VolumeStatus[];
      readonly to: VolumeStatus;
      /** `release`: free the reservation; `shrink`: back to the volume's recorded size. */
      readonly capacity: 'release' | 'shrink' | null;
      /** What the user should do now, appended to the message. */
      readonly hint: string;
    }
  | {
      readonly resourceType: 'snapshot';
      readonly from: readonly SnapshotStatus[];
      readonly to: SnapshotStatus;
      readonly capacity: null;
      readonly hint: string;
    };

/** Operation kind → the resource's move when the operation misses its deadline. */
export const DEADLINE_RULES: Readonly<Partial<Record<OperationKind, DeadlineRule>>> = {
  create_volume: {
    resourceType: 'volume',
    from: ['creating'],
    to: 'error',
    capacity: 'release',
    hint: 'The volume is ERROR; delete it and create it again once the services are UP.',
  },
  extend_volume: {
    resourceType: 'volume',
    from: ['extending'],
    to: 'error_extending',
    capacity: 'shrink',
    hint: 'The volume is ERROR_EXTENDING; its data is kept. Delete it, or ask an admin to reset its status once the agent is UP.',
  },
  delete_volume: {
    resourceType: 'volume',
    from: ['deleting'],
    to: 'error_deleting',
    capacity: null,
    hint: 'The volume is ERROR_DELETING; delete it again once the agent is UP.',
  },
  manage_volume: {
    resourceType: 'volume',
    from: ['creating'],
    to: 'error',
    capacity: 'release',
    hint: 'The volume is ERROR; unmanage it (the file stays where it is if it was not adopted) and manage the file again once the agent is UP.',
  },
  unmanage_volume: {
    resourceType: 'volume',
    from: ['deleting'],
    to: 'error_deleting',
    capacity: null,
    hint: 'The volume is ERROR_DELETING; unmanage it again once the agent is UP.',
  },
  create_snapshot: {
    resourceType: 'snapshot',
    from: ['creating'],
    to: 'error',
    capacity: null,
    hint: 'The snapshot is ERROR; delete it and take another once the agent is UP.',
  },
  delete_snapshot: {
    resourceType: 'snapshot',
    from: ['deleting'],
    to: 'error_deleting',
    capacity: null,
    hint: 'The snapshot is ERROR_DELETING; delete it again once the agent is UP.',
  },
};

/** The rule for an operation kind; `undefined`: only the operation is failed, the resource is left as it is. */
export function deadlineRule(kind: string): DeadlineRule | undefined {
  // A row's kind is read from the database: any string, checked before it indexes the table.
  return Object.hasOwn(DEADLINE_RULES, kind) ? DEADLINE_RULES[kind as OperationKind] : undefined;
}

/** The operation's error message (and the user message) when it misses its deadline. */
export function deadlineMessage(kind: string, timeoutSeconds: number): string {
  const rule = deadlineRule(kind);
  // Work that moves its deadline with its progress (see `progressExtension`) ended because the progress stopped.
  const what = (PROGRESS_EXTENDED_KINDS as readonly string[]).includes(kind)
    ? `No agent answered or reported progress for ${timeoutSeconds} s`
    : `No agent or scheduler answered within ${timeoutSeconds} s`;
  return (
    `${what}, so the ${kind} operation was given up. ` +
    'Check `flint service list` for a scheduler or agent that is DOWN and start it; ' +
    'if it does the work later, Flint records that too.' +
    (rule ? ` ${rule.hint}` : '')
  );
}

/** Whether an operation ended because its deadline passed (as the sweeper records it). */
export function failedByDeadline(op: { status: string; errorCode: string | null }): boolean {
  return op.status === 'failed' && op.errorCode === DEADLINE_ERROR_CODE;
}

/** What the recorder does with an outcome whose regular transition no longer matches. */
export interface LateRule {
  /** States the resource must still be in (compare-and-set). */
  readonly from: readonly string[];
  /** New status; `null` keeps it (the row's version still grows). */
  readonly to: 'deleted' | 'available' | null;
  /**
   * `reserve`: the image exists after all, count it on its pool again; `release`: it is gone;
   * `grow`: the image has the new size after all, count that.
   */
  readonly capacity: 'reserve' | 'release' | 'grow' | null;
  /** User message event and text (`null`: none). */
  readonly event: string | null;
  message(where: { host?: string | undefined; pool?: string | undefined }): string | null;
}

/** User message event of a late create, so a redelivered outcome does not repeat it. */
export const LATE_CREATE_EVENT = 'create_late';

/** User message event of a late extend. */
export const LATE_EXTEND_EVENT = 'extend_late';

/**
 * The rule for a late outcome, or `null` to leave the resource alone (then only the
 * operation is ended, if it was still open).
 * - `create.succeeded` for a resource in ERROR whose create operation the deadline failed:
 *   it stays ERROR, but the image (or snapshot) now exists; the user is told it can be deleted normally.
 * - `delete.succeeded` for a resource in ERROR_DELETING: the bytes are gone, it is DELETED.
 * - `extend.succeeded` for a volume in ERROR_EXTENDING whose extend the deadline failed: the
 *   image has the new size, so the volume has it too and is usable again (IN_USE again when
 *   attached: the recorder recomputes that from its attachments).
 */
export function lateOutcomeRule(
  resourceType: 'volume' | 'snapshot',
  outcome: string,
  current: string,
  operation: { status: string; errorCode: string | null } | null,
): LateRule | null {
  if (outcome === 'create.succeeded' && current === 'error' && operation && failedByDeadline(operation)) {
    return {
      from: ['error'],
      to: null,
      capacity: resourceType === 'volume' ? 'reserve' : null,
      event: LATE_CREATE_EVENT,
      message: ({ host, pool }) =>
        resourceType === 'volume'
          ? `The agent created this volume's image after its deadline had passed${host ? ` (host ${host}${pool ? `, pool ${pool}` : ''})` : ''}. ` +
            'The image now exists but the volume stays ERROR; delete the volume normally to free its space.'
          : 'The agent took this snapshot after its deadline had passed. It now exists but stays ERROR; delete it normally.',
    };
  }
  if (outcome === 'extend.succeeded' && resourceType === 'volume' && current === 'error_extending' && operation && failedByDeadline(operation)) {
    return {
      from: ['error_extending'],
      to: 'available',
      capacity: 'grow',
      event: LATE_EXTEND_EVENT,
      message: () => 'The agent finished extending this volume after its deadline had passed. The volume has its new size and is usable again.',
    };
  }
  if (outcome === 'delete.succeeded' && current === 'error_deleting') {
    return { from: ['error_deleting'], to: 'deleted', capacity: resourceType === 'volume' ? 'release' : null, event: null, message: () => null };
  }
  return null;
}

/**
 * Volume states in which the image must be on its pool: an agent that starts and does not
 * find it reports the volume missing. Transitional states (a command may be queued) and
 * ERROR states where the image may never have been made are left out.
 */
export const IMAGE_EXPECTED_STATUSES: readonly VolumeStatus[] = ['available', 'in_use', 'error_extending', 'error_restoring', 'awaiting_transfer'];

/** The message left on a volume whose image an agent did not find. */
export function missingImageMessage(host: string, pool: string, poolConfigured = true): string {
  return poolConfigured
    ? `The image of this volume is missing on host ${host} (pool ${pool}); restore it or delete the volume.`
    : `The image of this volume is missing on host ${host}: the host has no pool ${pool} any more; restore the pool or delete the volume.`;
}

/**
 * Operation kinds whose deadline moves forward while their agent reports progress: a
 * backup, restore or verify of a large volume, or a migration's copy (also a retype's),
 * may run far longer than the operation timeout.
 */
export const BACKUP_PROGRESS_KINDS: readonly OperationKind[] = ['create_backup', 'restore_backup', 'verify_backup'];
export const MIGRATION_PROGRESS_KINDS: readonly OperationKind[] = ['migrate_volume', 'retype_volume'];
export const PROGRESS_EXTENDED_KINDS: readonly OperationKind[] = [...BACKUP_PROGRESS_KINDS, ...MIGRATION_PROGRESS_KINDS];

/** How long a gateway waits between two pushes of one operation's deadline: timeout / 10, at least 250 ms. */
export function deadlineExtendThrottleMs(timeoutSeconds: number): number {
  return Math.max(250, Math.round((timeoutSeconds * 1000) / 10));
}

/**
 * What a progress report does to its operation's deadline, as the compare-and-set the
 * database applies: `deadlineAt = to WHERE deadlineAt < onlyIfBefore` (and the operation
 * still PENDING or RUNNING). The guard is the throttle shared by every gateway: once one
 * has pushed the deadline, the others' updates for the next `timeout / 10` change nothing.
 * `null`: the report is no progress (its bytes did not grow since the last one this
 * gateway saw), so the deadline stays and an agent stuck on one chunk still runs out of time.
 */
export function progressExtension(
  report: { doneBytes: number },
  previousDoneBytes: number | undefined,
  now: Date,
  timeoutSeconds: number,
): { to: Date; onlyIfBefore: Date } | null {
  if (previousDoneBytes !== undefined && report.doneBytes <= previousDoneBytes) return null;
  const to = operationDeadline(now, timeoutSeconds);
  return { to, onlyIfBefore: new Date(to.getTime() - deadlineExtendThrottleMs(timeoutSeconds)) };
}
