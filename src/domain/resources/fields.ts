/** Field schemas the resources share, with the limits the gateway's checks quote (../volume-input.ts). Pure. */
import { z } from 'zod';
import { LIMITS } from '../volume-input.js';
import { computed } from './lifecycle.js';

export const nameSchema = z.string().trim().min(1).max(LIMITS.nameMax);
export const descriptionSchema = z.string().max(LIMITS.descriptionMax).nullable();
export const metadataSchema = z.record(z.string().min(1).max(LIMITS.metadataKeyMax), z.string().max(LIMITS.metadataValueMax));
export const sizeSchema = z.number().int().min(LIMITS.sizeMinGiB).max(LIMITS.sizeMaxGiB);
export const idempotencyKeySchema = z.string().min(1).max(LIMITS.idempotencyKeyMax).nullable();

/** The API spells statuses in upper case. */
export const statusSchema = (statuses: readonly string[]) => z.enum(statuses.map((s) => s.toUpperCase()) as [string, ...string[]]);

/** The fields every resource has: its id, its two counters and its times. */
export const commonComputed = {
  id: computed(z.uuid(), 'Its id, made by Flint.'),
  version: computed(z.number().int().min(1), 'Grows on every change, status moves included; give it as `expectedVersion` to change only what you read.'),
  createdAt: computed(z.iso.datetime(), 'When it was made.'),
  updatedAt: computed(z.iso.datetime(), 'When it last changed.'),
  changeSeq: computed(z.number().int().min(0), "The seq of its latest change in its project's change feed; subscribe with a list's changeSeq as sinceSeq to miss nothing."),
};
