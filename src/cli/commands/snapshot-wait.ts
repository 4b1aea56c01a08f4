/**
 * `flint snapshot … --wait`: follows the mutation's operation until it ends, then judges
 * the outcome (an ERROR state, or the operation FAILED), as `wait.ts` does for volumes.
 */
import {
  SnapshotDocument,
  type OperationFieldsFragment,
  type SnapshotFieldsFragment,
} from '../../client/index.js';
import type { CliContext } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { waitForOperationEnd } from './wait.js';

/** The asynchronous snapshot mutations. */
export type SnapshotAction = 'create' | 'delete';

/** What a snapshot mutation returns: the snapshot and the operation doing the work. */
export interface SnapshotMutationResult {
  snapshot: SnapshotFieldsFragment;
  operation: OperationFieldsFragment | null;
}

/**
 * Waits until the mutation's operation ends (the SDK's `waitForOperation`), then reads the
 * snapshot as it is (DELETED when it is gone) and returns both.
 * @throws FlintWaitError on timeout; FlintApiError when the server refuses.
 */
export async function waitForSnapshotAction(
  ctx: CliContext,
  _action: SnapshotAction,
  started: SnapshotMutationResult,
  timeoutMs: number,
): Promise<SnapshotMutationResult> {
  // Nothing was started (it was deleted already): nothing to wait for.
  if (!started.operation) return started;
  const operation = await waitForOperationEnd(ctx, `snapshot ${started.snapshot.name}`, started.operation, timeoutMs);
  const now = (await ctx.client.request(SnapshotDocument, { id: started.snapshot.id })).snapshot;
  return { snapshot: now ? stripExtras(now) : { ...started.snapshot, status: 'DELETED' }, operation };
}

function stripExtras(s: SnapshotFieldsFragment & { volume?: unknown; messages?: unknown }): SnapshotFieldsFragment {
  const { volume: _v, messages: _m, ...rest } = s;
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
