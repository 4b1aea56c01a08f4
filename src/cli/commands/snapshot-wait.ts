/**
 * `flint snapshot … --wait`: follows a snapshot over `snapshotChanged` until the
 * mutation's work is over, then judges the outcome (an ERROR state, or the operation
 * FAILED), as `wait.ts` does for volumes.
 */
import {
  FlintApiError,
  FlintWaitError,
  OperationDocument,
  SnapshotDocument,
  type OperationFieldsFragment,
  type SnapshotFieldsFragment,
} from '../../client/index.js';
import type { CliContext } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { startProgress } from './progress.js';

/** The asynchronous snapshot mutations. */
export type SnapshotAction = 'create' | 'delete';

/** What a snapshot mutation returns: the snapshot and the operation doing the work. */
export interface SnapshotMutationResult {
  snapshot: SnapshotFieldsFragment;
  operation: OperationFieldsFragment | null;
}

/** The status the snapshot has while `action` runs. */
const TRANSIENT: Record<SnapshotAction, string> = { create: 'CREATING', delete: 'DELETING' };

/** Whether `status` ends `action`: any status other than the action's transient one (AVAILABLE, DELETED, ERROR…). */
export function isSnapshotSettled(action: SnapshotAction, status: string): boolean {
  return status !== TRANSIENT[action];
}

/**
 * Waits until `action` is over and returns the final snapshot and operation (read again).
 * A delete whose snapshot vanished before the subscription started reads as DELETED.
 * @throws FlintWaitError on timeout; FlintApiError when the server refuses.
 */
export async function waitForSnapshotAction(
  ctx: CliContext,
  action: SnapshotAction,
  started: SnapshotMutationResult,
  timeoutMs: number,
): Promise<SnapshotMutationResult> {
  let snapshot = started.snapshot;
  // Nothing was started (it was deleted already): nothing to wait for.
  if (!started.operation) return started;
  if (!isSnapshotSettled(action, snapshot.status)) {
    const progress = startProgress(ctx.stderr, `snapshot ${snapshot.name}`, snapshot.status);
    try {
      snapshot = await ctx.client.waitForSnapshot(snapshot.id, (s) => (progress.update(s.status), isSnapshotSettled(action, s.status)), timeoutMs);
    } catch (err) {
      const gone = (err instanceof FlintWaitError && err.code === 'ENDED') || (err instanceof FlintApiError && err.code === 'NOT_FOUND');
      if (action !== 'delete' || !gone) throw err;
      const now = (await ctx.client.request(SnapshotDocument, { id: snapshot.id })).snapshot;
      snapshot = now ? stripExtras(now) : { ...snapshot, status: 'DELETED' };
    } finally {
      progress.stop();
    }
  }
  const operation = (await ctx.client.request(OperationDocument, { id: started.operation.id })).operation;
  return { snapshot, operation: operation ? stripResource(operation) : started.operation };
}

function stripExtras(s: SnapshotFieldsFragment & { volume?: unknown; messages?: unknown }): SnapshotFieldsFragment {
  const { volume: _v, messages: _m, ...rest } = s;
  return rest;
}

function stripResource(op: OperationFieldsFragment & { resourceType?: string; resourceId?: string }): OperationFieldsFragment {
  const { resourceType: _t, resourceId: _r, ...rest } = op;
  return rest;
}

/**
 * Why a finished snapshot action failed, or undefined when it succeeded: an ERROR
 * state (with the snapshot's latest message, and the operation's error code) or a
 * FAILED operation. Both exit 1.
 */
export async function snapshotFailureOf(ctx: CliContext, result: SnapshotMutationResult): Promise<CliError | undefined> {
  const { snapshot, operation } = result;
  if (snapshot.status.startsWith('ERROR')) {
    const messages = (await ctx.client.request(SnapshotDocument, { id: snapshot.id })).snapshot?.messages ?? [];
    const why = messages[0]?.message ?? operation?.error?.message ?? 'no message was left on the snapshot';
    return new CliError(operation?.error?.code ?? snapshot.status, `Snapshot ${snapshot.id} is ${snapshot.status}: ${why}`, EXIT.ERROR);
  }
  if (operation?.status === 'FAILED') {
    const why = operation.error?.message ?? 'the operation failed without an error message';
    return new CliError(operation.error?.code ?? 'FAILED', `Operation ${operation.id} (${operation.kind}) failed: ${why}`, EXIT.ERROR);
  }
  return undefined;
}
