/**
 * Volume transfers (issue 12, Cinder's `volume transfer`): the `volume_transfer` table. A
 * transfer offers one AVAILABLE volume to whichever project presents its key; the key is
 * kept only as its sha256. Rows stay after they end (accepted, cancelled, expired) as the
 * record of who gave what to whom.
 */
import 'reflect-metadata';
import { Entity, Index, OptionalProps, PrimaryKey, Property, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import { keysetPage, type Page, type PageRequest } from './page.js';

export type TransferStatus = 'pending' | 'accepted' | 'cancelled' | 'expired';

@Entity({ tableName: 'volume_transfer' })
@Index({ properties: ['projectId', 'createdAt', 'id'] })
@Index({ properties: ['status', 'expiresAt'] })
export class VolumeTransfer {
  [OptionalProps]?: 'status' | 'acceptedProjectId' | 'finishedAt' | 'createdAt';
  @PrimaryKey({ type: 'string', length: 36 }) id!: string;
  @Index() @Property({ type: 'string', length: 36 }) volumeId!: string;
  /** The giving project. */
  @Property({ type: 'string', length: 36 }) projectId!: string;
  @Property({ type: 'string', length: 255 }) name!: string;
  /** sha256 of the key, hex; the key itself is shown once, in createVolumeTransfer's answer. */
  @Property({ type: 'string', length: 64 }) authKeyHash!: string;
  @Property({ type: 'string', length: 16 }) status: TransferStatus = 'pending';
  /** The project that accepted it. */
  @Property({ type: 'string', length: 36, nullable: true }) acceptedProjectId: string | null = null;
  @Property({ type: 'datetime' }) createdAt: Date = new Date();
  /** After this instant it can no longer be accepted; the sweeper ends it (EXPIRED) and the volume is AVAILABLE again. */
  @Property({ type: 'datetime' }) expiresAt!: Date;
  @Property({ type: 'datetime', nullable: true }) finishedAt: Date | null = null;
}

export async function findTransfer(em: EntityManager, id: string): Promise<VolumeTransfer | null> {
  return em.findOne(VolumeTransfer, { id }, { disableIdentityMap: true });
}

/** Ends a PENDING transfer (accepted, cancelled, expired); false when it was not PENDING any more. */
export async function endTransfer(em: EntityManager, id: string, status: Exclude<TransferStatus, 'pending'>, acceptedProjectId: string | null = null): Promise<boolean> {
  return (await em.nativeUpdate(VolumeTransfer, { id, status: 'pending' }, { status, acceptedProjectId, finishedAt: new Date() })) === 1;
}

/** PENDING transfers, newest first, one page; `projectId` null: every project's (admins). */
export function listPendingTransfers(em: EntityManager, projectId: string | null, page: PageRequest): Promise<Page<VolumeTransfer>> {
  const where: FilterQuery<VolumeTransfer> = { status: 'pending', ...(projectId ? { projectId } : {}) };
  return keysetPage(em, VolumeTransfer, where, { ...page, order: 'desc' });
}

/** PENDING transfers past their expiry, oldest first. */
export function expiredTransfers(em: EntityManager, now: Date, limit = 100): Promise<VolumeTransfer[]> {
  return em.find(VolumeTransfer, { status: 'pending', expiresAt: { $lte: now } }, { orderBy: { expiresAt: 'asc' }, limit, disableIdentityMap: true });
}
