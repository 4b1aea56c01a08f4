/** The API's resources as models (schema/resources/*.schema.json). Pure. */
import { ATTACHMENT_MODEL } from './attachment.js';
import { BACKUP_MODEL } from './backup.js';
import type { ResourceModel } from './model.js';
import { SNAPSHOT_MODEL } from './snapshot.js';
import { VOLUME_MODEL } from './volume.js';

export const RESOURCE_MODELS: readonly ResourceModel[] = [VOLUME_MODEL, SNAPSHOT_MODEL, ATTACHMENT_MODEL, BACKUP_MODEL];

export { LIFECYCLES, fieldRules, type ActionStatuses, type FieldRule, type Lifecycle } from './lifecycle.js';
export { resourceJsonSchema, rulesOf, type ResourceModel } from './model.js';
export { ATTACHMENT_MODEL, BACKUP_MODEL, SNAPSHOT_MODEL, VOLUME_MODEL };
export { ATTACHMENT_FIELDS } from './attachment.js';
export { SNAPSHOT_FIELDS } from './snapshot.js';
export { VOLUME_FIELDS } from './volume.js';
