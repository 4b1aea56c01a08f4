/**
 * `--wait`: follows the mutation's operation until it ends (`operationChanged`), then
 * judges the outcome (the volume in an ERROR state, or the operation FAILED).
 */
import {
  VolumeDocument,
  type OperationFieldsFragment,
  type VolumeFieldsFragment,
} from '../../client/index.js';
import type { CliContext } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { startProgress } from './progress.js';

/** The asynchronous volume mutations. */
export type VolumeAction = 'create' | 'extend' | 'delete' | 'migrate' | 'retype';

/** What a volume mutation returns: the volume and the operation doing the work (none when there was nothing to do). */
export interface MutationResult {
  volume: VolumeFieldsFragment;
  operation: OperationFieldsFragment | null;
}

/**
 * Waits until the mutation's operation ends (the SDK's `waitForOperation`: one wait for every
 * action, with no table of which statuses are "in progress"), then reads the volume as it is
 * (DELETED when it is gone) and returns both.
 * @throws FlintWaitError on timeout; FlintApiError when the server refuses.
 */
export async function waitForAction(ctx: CliContext, _action: VolumeAction, started: MutationResult, timeoutMs: number): Promise<MutationResult> {
  // Nothing was started (the volume already was as asked): nothing to wait for.
  if (!started.operation) return started;
  const operation = await waitForOperationEnd(ctx, `volume ${started.volume.name}`, started.operation, timeoutMs);
  const now = (await ctx.client.request(VolumeDocument, { id: started.volume.id })).volume;
  return { volume: now ?? { ...started.volume, status: 'DELETED' }, operation };
}

/** Waits for `operation` to end, its status on a progress line labelled `label`; returns it as the commands print it. */
export async function waitForOperationEnd(ctx: CliContext, label: string, operation: OperationFieldsFragment, timeoutMs: number): Promise<OperationFieldsFragment> {
  const progress = startProgress(ctx.stderr, label, operation.status);
  try {
    return asOperationFields(await ctx.client.waitForOperation(operation.id, timeoutMs, (o) => progress.update(o.status)));
  } finally {
    progress.stop();
  }
}

/** The fields every command prints of an operation, whatever the query that read it added. */
function asOperationFields(op: OperationFieldsFragment & { resourceType?: string; resourceId?: string; deadlineAt?: unknown }): OperationFieldsFragment {
  const { resourceType: _t, resourceId: _r, deadlineAt: _d, ...rest } = op;
  return rest;
}

/**
 * Why a finished action failed, or undefined when it succeeded: an ERROR state (with
 * the volume's latest message, and the operation's error code) or a FAILED operation
 * (e.g. an extend the scheduler refused, leaving the volume AVAILABLE at its old size).
 * Both exit 1.
 */
export async function failureOf(ctx: CliContext, result: MutationResult): Promise<CliError | undefined> {
  const { volume, operation } = result;
  if (volume.status.startsWith('ERROR')) {
    const messages = (await ctx.client.request(VolumeDocument, { id: volume.id })).volume?.messages ?? [];
    const why = messages[0]?.message ?? operation?.error?.message ?? 'no message was left on the volume';
    return new CliError(operation?.error?.code ?? volume.status, `Volume ${volume.id} is ${volume.status}: ${why}`, EXIT.ERROR);
  }
  if (operation?.status === 'FAILED') {
    const why = operation.error?.message ?? 'the operation failed without an error message';
    return new CliError(operation.error?.code ?? 'FAILED', `Operation ${operation.id} (${operation.kind}) failed: ${why}`, EXIT.ERROR);
  }
  return undefined;
}
