/**
 * One export of the iscsi target as the target remembers it (the request, its IQN, the
 * FUSE export of a qcow2 image, the conf of an RBD image), and the pure checks of whether a request or tgtd's view
 * of a target still matches it.
 */
import { needsQemuView } from '../drivers/index.js';
import type { FuseExport } from './fuse-export.js';
import type { ExportRequest } from './target.js';
import type { TgtTarget } from './tgtadm.js';
import { lunBacking, type LunBacking } from './tgt-backing.js';

export interface IscsiExport {
  req: ExportRequest;
  iqn: string;
  fuse: FuseExport | undefined;
  /** The ceph.conf tgt reads for an RBD image whose pool names a keyring (the target's own copy with it). */
  rbdConf?: string | undefined;
}

/** What tgt serves as the LUN of `e` (tgt-backing.ts). */
export function backingOf(e: IscsiExport): LunBacking {
  return lunBacking(e.req.image, e.fuse?.mountpoint, e.rbdConf);
}

function sameImage(a: ExportRequest, b: ExportRequest): boolean {
  return (
    a.image.path === b.image.path &&
    a.image.format === b.image.format &&
    a.image.snapshotName === b.image.snapshotName &&
    a.image.key === b.image.key &&
    JSON.stringify(a.image.rbd ?? null) === JSON.stringify(b.image.rbd ?? null) &&
    a.mode === b.mode
  );
}

export function sameExport(a: ExportRequest, b: ExportRequest): boolean {
  return sameImage(a, b) && a.initiator === b.initiator && a.chap?.username === b.chap?.username && a.chap?.password === b.chap?.password;
}

/** tgtd's view of a target matches what we made (a LUN on the right file, ACL and account). */
export function isComplete(t: TgtTarget, known: IscsiExport, req: ExportRequest): boolean {
  const lun = t.luns.find((l) => l.lun === 1);
  if (needsQemuView(req.image) && !known.fuse?.alive) return false;
  return (
    t.state === 'ready' &&
    lun?.backingPath === backingOf(known).store &&
    lun.readonly === (req.mode === 'ro') &&
    t.acls.includes(req.initiator ?? 'ALL') &&
    (req.chap ? t.accounts.includes(req.chap.username) : t.accounts.length === 0)
  );
}
