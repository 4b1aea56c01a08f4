/**
 * Flint's typed SDK. Documents and types are generated from `schema/operations/` by
 * `graphql-codegen` (see codegen.yml) and re-exported here:
 *
 * ```ts
 * import { FlintClient, CreateVolumeDocument } from '../../src/client/index.js';
 * const flint = new FlintClient({ url: 'http://127.0.0.1:4000/graphql', token });
 * const { createVolume } = await flint.request(CreateVolumeDocument, { input: { name: 'a', sizeGiB: 1 } });
 * await flint.waitForVolume(createVolume.volume.id, (v) => v.status === 'AVAILABLE');
 * ```
 */
export * from './generated/graphql.js';
export { FlintClient, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_WAIT_TIMEOUT_MS, DEFAULT_WS_RETRIES, type FlintDocument, type FlintClientOptions, type SnapshotFields, type VolumeFields } from './client.js';
export { FlintApiError, FlintWaitError, NETWORK, type WaitFailure } from './errors.js';
export { shouldRetry, backoffMs, waitMs, DEFAULT_RETRIES, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS, type AttemptFailure, type RetryContext } from './retry.js';
export type { Subscription } from './subscription.js';
