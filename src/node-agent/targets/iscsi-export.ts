/**
 * One export of the iscsi target as the target remembers it (the request, its IQN, the
 * FUSE export of a qcow2 image), and the pure checks of whether a request or tgtd's view
 * of a target still matches it.
 */
import { needsQemuView } from '../drivers/index.js';
import type { FuseExport } from './fuse-export.js';
import type { ExportRequest } from './target.js';
import type { TgtTarget } from './tgtadm.js';

export interface IscsiExport {
  req: ExportRequest;
  iqn: string;
  fuse: FuseExport | undefined;
}

function sameImage(a: ExportRequest, b: ExportRequest): boolean {
  return (
    a.image.path === b.image.path &&
    a.image.format === b.image.format &&
    a.image.snapshotName === b.image.snapshotName &&
    a.image.key === b.image.key &&
    a.mode === b.mode
  );
}

export function sameExport(a: ExportRequest, b: ExportRequest): boolean {
  return sameImage(a, b) && a.initiator === b.initiator && a.chap?.username === b.chap?.username && a.chap?.password === b.chap?.password;
}

/** tgtd's view of a target matches what we made (a LUN on the right file, ACL and account). */
export function isComplete(t: TgtTarget, known: IscsiExport, req: ExportRequest): boolean {
  const lun = t.luns.find((l) => l.lun === 1);
  const backing = known.fuse?.mountpoint ?? req.image.path;
  if (needsQemuView(req.image) && !known.fuse?.alive) return false;
  return (
    t.state === 'ready' &&
    lun?.backingPath === backing &&
    lun.readonly === (req.mode === 'ro') &&
    t.acls.includes(req.initiator ?? 'ALL') &&
    (req.chap ? t.accounts.includes(req.chap.username) : t.accounts.length === 0)
  );
}
