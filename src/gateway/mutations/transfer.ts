/**
 * Volume transfers (issue 12, Cinder's `volume transfer`), on the kernel: a member offers an
 * AVAILABLE volume without attachments (AWAITING_TRANSFER, a key shown once), a member of
 * any project accepts it with the key (the volume and its snapshots move in one
 * transaction, checked against the receiver's quota; the giver's usage goes with them),
 * or the giver cancels it. Expiry is the sweeper's (../sweepers/transfer-expiry.ts).
 */
import { randomUUID } from 'node:crypto';
import { raw } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import {
  casVolume,
  endTransfer,
  findTransfer,
  findVolume,
  listPendingTransfers,
  liveAttachmentsOf,
  Snapshot,
  snapshotsOfVolume,
  Volume,
  VolumeTransfer,
  type Page,
  type Principal,
} from '../../db/index.js';
import { canSee, projectScope, requirePrincipal, requireWriter } from '../../domain/access.js';
import { volumeHasAttachments } from '../../domain/attachment-states.js';
import { actionTransition, assertCanStart, BadInputError, checkName, InvalidStateError, NotFoundError } from '../../domain/index.js';
import { authKeyMatches, hashAuthKey, newAuthKey, transferNotFound } from '../../domain/transfer-rules.js';
import type { PageArgs } from '../../resolvers/ports/reads.js';
import type { AcceptVolumeTransferRequest, CreateVolumeTransferRequest, TransfersPort } from '../../resolvers/ports/transfers.js';
import type { GatewayDeps } from '../deps.js';
import { pageRequest } from '../queries/page.js';
import { runMutation } from './kernel.js';
import { transferClaim } from './quota-claims.js';
import { mustSeeVolume, volumeWhyNot } from './volume.js';

export class TransferMutations implements TransfersPort {
  constructor(private readonly deps: GatewayDeps) {}

  create(principal: Principal | null, input: CreateVolumeTransferRequest): Promise<{ transfer: VolumeTransfer; authKey: string; volume: Volume }> {
    const authKey = newAuthKey();
    return runMutation<Volume, { transfer: VolumeTransfer; volume: Volume }, { transfer: VolumeTransfer; authKey: string; volume: Volume }>(this.deps, principal, {
      resourceType: 'volume transfer',
      authorize: requireWriter,
      validate: (problems) => {
        if (!input.volumeId) problems.add('volumeId is required: the volume to give');
        checkName(problems, 'name', input.name, false);
      },
      load: (em, p) => mustSeeVolume(em, p, input.volumeId),
      check: async (em, volume) => {
        const attachments = await liveAttachmentsOf(em, volume.id);
        if (attachments.length > 0) throw volumeHasAttachments(volume.id, attachments);
        assertCanStart('transfer', volume.status, volume.id);
        return volume;
      },
      transition: async (tx, current) => {
        const volume = await casVolume(tx, current.id, { from: actionTransition('transfer').from, expectedVersion: current.version }, { status: 'awaiting_transfer' });
        if (!volume) return null;
        const transfer = tx.create(VolumeTransfer, {
          id: randomUUID(),
          volumeId: volume.id,
          projectId: volume.projectId,
          name: input.name ?? `transfer of ${volume.name}`,
          authKeyHash: hashAuthKey(authKey),
          expiresAt: new Date(Date.now() + this.deps.config.transferExpirySeconds * 1000),
        });
        return { transfer, volume };
      },
      whyNot: (tx, current) => volumeWhyNot(tx, 'transfer', current.id, undefined),
      announce: (deps, { volume, transfer }) => {
        deps.log.info({ volumeId: volume.id, transferId: transfer.id, projectId: volume.projectId }, 'volume offered for transfer');
        deps.live.publish('UPDATED', volume);
      },
      result: ({ transfer, volume }) => ({ transfer, authKey, volume }),
    });
  }

  accept(principal: Principal | null, input: AcceptVolumeTransferRequest): Promise<{ transfer: VolumeTransfer; volume: Volume }> {
    type Loaded = { transfer: VolumeTransfer; volume: Volume; snapshots: Snapshot[]; receiver: string };
    type Moved = { transfer: VolumeTransfer; volume: Volume; snapshots: Snapshot[] };
    return runMutation<Loaded, Moved, { transfer: VolumeTransfer; volume: Volume }>(this.deps, principal, {
      resourceType: 'volume transfer',
      authorize: requireWriter,
      validate: (problems) => {
        if (!input.transferId) problems.add('transferId is required: the id the giving project got from createVolumeTransfer');
        if (!input.authKey) problems.add('authKey is required: the key the giving project got from createVolumeTransfer');
      },
      load: async (em, p) => {
        const transfer = await findTransfer(em, input.transferId);
        // Missing, ended, expired or a wrong key: one answer.
        if (!transfer || transfer.status !== 'pending' || transfer.expiresAt.getTime() <= Date.now() || !authKeyMatches(input.authKey, transfer.authKeyHash)) {
          throw transferNotFound(input.transferId);
        }
        if (transfer.projectId === p.projectId) {
          throw new BadInputError([`volume transfer ${transfer.id} is from your own project; cancel it (deleteVolumeTransfer) instead of accepting it`]);
        }
        const volume = await findVolume(em, transfer.volumeId);
        if (!volume || volume.status !== 'awaiting_transfer') throw transferNotFound(input.transferId);
        const snapshots = (await snapshotsOfVolume(em, volume.id)).filter((s) => s.status !== 'deleted');
        return { transfer, volume, snapshots, receiver: p.projectId };
      },
      transition: async (tx, { transfer, volume, receiver }) => {
        if (!(await endTransfer(tx, transfer.id, 'accepted', receiver))) return null;
        // Two versions: one for leaving the giver's project, one for arriving in the receiver's (live.publishMove).
        const moved = { projectId: receiver, version: raw('version + 2'), updatedAt: new Date() };
        if ((await tx.nativeUpdate(Volume, { id: volume.id, status: 'awaiting_transfer', version: volume.version }, { ...moved, status: 'available' })) !== 1) return null;
        await tx.nativeUpdate(Snapshot, { volumeId: volume.id, status: { $ne: 'deleted' } }, moved);
        const now = (await findVolume(tx, volume.id))!;
        const snapshots = (await snapshotsOfVolume(tx, volume.id)).filter((s) => s.status !== 'deleted');
        return { transfer: (await findTransfer(tx, transfer.id))!, volume: now, snapshots };
      },
      // Accepted by someone else meanwhile, cancelled, or the volume changed: as if it were gone.
      whyNot: async () => transferNotFound(input.transferId),
      quota: ({ volume, snapshots }, { receiver }) => transferClaim(receiver, volume, snapshots),
      announce: (deps, { volume, snapshots, transfer }, loaded) => {
        deps.log.info({ volumeId: volume.id, transferId: transfer.id, from: loaded.transfer.projectId, to: volume.projectId, snapshots: snapshots.length }, 'volume transfer accepted');
        deps.live.publishMove(volume, snapshots, loaded.transfer.projectId);
      },
      result: ({ transfer, volume }) => ({ transfer, volume }),
    });
  }

  delete(principal: Principal | null, input: { id: string }): Promise<{ transfer: VolumeTransfer; volume: Volume | null; alreadyDeleted: boolean }> {
    type Cancelled = { transfer: VolumeTransfer; volume: Volume | null; alreadyDeleted: boolean };
    return runMutation<VolumeTransfer, Cancelled, Cancelled>(this.deps, principal, {
      resourceType: 'volume transfer',
      authorize: requireWriter,
      validate: (problems) => {
        if (!input.id) problems.add('id is required: the volume transfer to cancel');
      },
      load: async (em, p) => {
        const transfer = await findTransfer(em, input.id);
        if (!transfer || !canSee(p, transfer.projectId)) throw new NotFoundError('Volume transfer', input.id);
        return transfer;
      },
      // Ended already (cancelled, expired or accepted): nothing is pending to cancel.
      settled: (_em, transfer) => (transfer.status === 'pending' ? null : { transfer, volume: null, alreadyDeleted: true }),
      transition: async (tx, transfer) => {
        const cancelled = await cancelTransfer(tx, transfer, 'cancelled');
        return cancelled && { ...cancelled, alreadyDeleted: false };
      },
      // Only an accept, an expiry or another cancel makes it miss (settled answers those, after a fresh load).
      whyNot: async (tx, transfer) => endedTransfer((await findTransfer(tx, transfer.id)) ?? transfer),
      announce: (deps, { volume, transfer }) => {
        deps.log.info({ transferId: transfer.id, volumeId: transfer.volumeId }, 'volume transfer cancelled');
        if (volume) deps.live.publish('UPDATED', volume);
      },
      result: (changed) => changed,
    });
  }

  async list(principal: Principal | null, page: PageArgs): Promise<Page<VolumeTransfer>> {
    const p = requirePrincipal(principal);
    return listPendingTransfers(this.deps.db.fork(), projectScope(p), pageRequest(page));
  }
}

/**
 * Ends a PENDING transfer without a receiver (cancelled, expired) and gives the volume back
 * (AVAILABLE); null when it was no longer PENDING. A volume no longer AWAITING_TRANSFER (an
 * admin reset or force-deleted it) is left as it is.
 */
export async function cancelTransfer(tx: EntityManager, transfer: VolumeTransfer, status: 'cancelled' | 'expired'): Promise<{ transfer: VolumeTransfer; volume: Volume | null } | null> {
  if (!(await endTransfer(tx, transfer.id, status))) return null;
  const volume = await casVolume(tx, transfer.volumeId, { from: ['awaiting_transfer'] }, { status: 'available' });
  return { transfer: (await findTransfer(tx, transfer.id))!, volume };
}

function endedTransfer(t: VolumeTransfer): InvalidStateError {
  return new InvalidStateError(`Volume transfer ${t.id} is ${t.status.toUpperCase()} and cannot be cancelled; only a PENDING transfer can.`, { currentStatus: t.status.toUpperCase() });
}
