/**
 * A reference provider core on the typed SDK (`flint plan|apply|import`): stack files of
 * volumes, their snapshots, attachments and backup policies, validated by the resource
 * models' own field schemas; their state found in Flint by metadata labels and keys; plans
 * from each field's lifecycle; creates keyed for safe retries.
 */
export { applyPlan, applySummary, type ChangeResult, type KindOps, type StackOps } from './apply.js';
export { AttachmentProvider } from './attachment-provider.js';
export { BackupProvider } from './backup-provider.js';
export { formatDuration, parseDuration } from './duration.js';
export { backupKey, canonicalJson, createKey, KEY_PREFIX, ownerOfKey, specHash } from './keys.js';
export { labelsFor, NAME_LABEL, ownerOf, RESERVED_PREFIX, reservedKeys, STACK_LABEL } from './labels.js';
export { desiredVolumes, diffVolume, hasChanges, planStack } from './plan.js';
export { desiredAttachments, desiredSnapshots } from './plan-dependents.js';
export * from './plan-types.js';
export { formatPlan, planSummary } from './plan-format.js';
export { DEFAULT_OPERATION_TIMEOUT_MS, ProviderError, type ProviderOptions } from './provider-base.js';
export { SnapshotProvider } from './snapshot-provider.js';
export { formatProblem, parseStackFile, StackFileError, type StackProblem } from './stack-file.js';
export { StackProvider } from './stack-provider.js';
export { STACK_SNAPSHOT_FIELDS, STACK_VOLUME_FIELDS, stackFileSchema, type AttachmentSpec, type BackupPolicySpec, type SnapshotSpec, type Stack, type VolumeSpec } from './stack-schema.js';
export { createInput, toActual, VolumeProvider } from './volume-provider.js';
