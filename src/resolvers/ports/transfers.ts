/** What the transfer resolvers need from the gateway (src/gateway/mutations/transfer.ts implements it). */
import type { Page, Principal, Volume, VolumeTransfer } from '../../db/index.js';
import type { PageArgs } from './reads.js';

export interface CreateVolumeTransferRequest {
  volumeId: string;
  name?: string | null;
}

export interface AcceptVolumeTransferRequest {
  transferId: string;
  authKey: string;
}

export interface TransfersPort {
  /** Offers an AVAILABLE volume without attachments; the key is in this answer only. */
  create(p: Principal | null, input: CreateVolumeTransferRequest): Promise<{ transfer: VolumeTransfer; authKey: string; volume: Volume }>;
  /** Moves the volume and its snapshots to the caller's project. */
  accept(p: Principal | null, input: AcceptVolumeTransferRequest): Promise<{ transfer: VolumeTransfer; volume: Volume }>;
  /** Cancels a pending transfer: the volume is AVAILABLE again in its project. */
  /** `alreadyDeleted`: the transfer had ended before (cancelled, expired or accepted: its status says which); nothing was done. */
  delete(p: Principal | null, input: { id: string }): Promise<{ transfer: VolumeTransfer; volume: Volume | null; alreadyDeleted: boolean }>;
  /** Pending transfers of the caller's project (admins: every project's), newest first. */
  list(p: Principal | null, page: PageArgs): Promise<Page<VolumeTransfer>>;
}
