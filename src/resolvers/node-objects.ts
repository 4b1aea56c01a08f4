/** The GraphQL object of whatever a lookup by id found (`node(id)`, `Operation.resource`). */
import { toBackupView } from '../db/index.js';
import type { FoundNode } from './ports/index.js';
import { AttachmentObject } from './types/attachment.js';
import { BackupObject } from './types/backup.js';
import type { Node } from './types/node.js';
import { OperationObject } from './types/operation.js';
import { SnapshotObject } from './types/snapshot.js';
import { VolumeTypeObject } from './types/system.js';
import { VolumeObject } from './types/volume.js';

export function nodeObject(found: FoundNode): Node {
  switch (found.kind) {
    case 'volume':
      return VolumeObject.from(found.row);
    case 'snapshot':
      return SnapshotObject.from(found.row);
    case 'backup':
      return BackupObject.from(found.row, toBackupView);
    case 'attachment':
      return AttachmentObject.from(found.row);
    case 'operation':
      return OperationObject.from(found.row);
    case 'volumeType':
      return VolumeTypeObject.from(found.row);
  }
}
