/**
 * A reference provider core on the typed SDK (`flint plan|apply|import`): stack files of
 * volumes, validated by the resource model's own field schemas; their state found in Flint by
 * metadata labels; plans from each field's lifecycle; creates keyed for safe retries.
 */
export { applyPlan, applySummary, type ChangeResult, type VolumeOps } from './apply.js';
export { canonicalJson, createKey, KEY_PREFIX, specHash } from './keys.js';
export { labelsFor, NAME_LABEL, ownerOf, RESERVED_PREFIX, reservedKeys, STACK_LABEL } from './labels.js';
export { desiredVolumes, diffVolume, hasChanges, planStack, type ActualVolume, type Change, type DesiredVolume, type FieldChange, type Plan } from './plan.js';
export { formatPlan, planSummary } from './plan-format.js';
export { formatProblem, parseStackFile, StackFileError, type StackProblem } from './stack-file.js';
export { STACK_VOLUME_FIELDS, stackFileSchema, type Stack, type VolumeSpec } from './stack-schema.js';
export { createInput, DEFAULT_OPERATION_TIMEOUT_MS, ProviderError, toActual, VolumeProvider, type ProviderOptions } from './volume-provider.js';
