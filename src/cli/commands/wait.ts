/**
 * `--wait`: follows a volume over `volumeChanged` until the mutation's work is over,
 * then judges the outcome (the volume in an ERROR state, or the operation FAILED).
 */
import {
  FlintApiError,
  FlintWaitError,
  OperationDocument,
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

/** The status the volume has while `action` runs. */
const TRANSIENT: Record<VolumeAction, string> = { create: 'CREATING', extend: 'EXTENDING', delete: 'DELETING', migrate: 'MAINTENANCE', retype: 'RETYPING' };

/**
 * Whether `status` ends `action`: any status other than the action's transient one (AVAILABLE,
 * DELETED, ERROR…). A delete ends DELETED or ERROR_DELETING only: one queued while the volume
 * was CREATING passes through AVAILABLE (or ERROR) before it starts.
 */
export function isSettled(action: VolumeAction, status: string): boolean {
  if (action === 'delete') return status === 'DELETED' || status === 'ERROR_DELETING';
  return status !== TRANSIENT[action];
}

/**
 * Waits until `action` is over and returns the final volume and operation (read again).
 * A delete whose volume vanished before the subscription started reads as DELETED.
 * @throws FlintWaitError on timeout; FlintApiError when the server refuses.
 */
export async function waitForAction(ctx: CliContext, action: VolumeAction, started: MutationResult, timeoutMs: number): Promise<MutationResult> {
  let volume = started.volume;
  // Nothing was started (the volume already was as asked): nothing to wait for.
  if (!started.operation) return started;
  if (!isSettled(action, volume.status)) {
    const progress = startProgress(ctx.stderr, `volume ${volume.name}`, volume.status);
    try {
      volume = await ctx.client.waitForVolume(volume.id, (v) => (progress.update(v.status), isSettled(action, v.status)), timeoutMs);
    } catch (err) {
      const gone = (err instanceof FlintWaitError && err.code === 'ENDED') || (err instanceof FlintApiError && err.code === 'NOT_FOUND');
      if (action !== 'delete' || !gone) throw err;
      const now = (await ctx.client.request(VolumeDocument, { id: volume.id })).volume;
      volume = now ?? { ...volume, status: 'DELETED' };
    } finally {
      progress.stop();
    }
  }
  const operation = (await ctx.client.request(OperationDocument, { id: started.operation.id })).operation;
  return { volume, operation: operation ? stripResource(operation) : started.operation };
}

function stripResource(op: OperationFieldsFragment & { resourceType?: string; resourceId?: string }): OperationFieldsFragment {
  const { resourceType: _t, resourceId: _r, ...rest } = op;
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
