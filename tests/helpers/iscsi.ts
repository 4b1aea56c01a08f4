/** How tests and benchmarks log in to an iSCSI export with an independent initiator: qemu-io over libiscsi. */

/** Where and as whom: the export's portal, target and LUN, its CHAP account, and the initiator's name. */
export interface IscsiLogin {
  targetPortal: string | null;
  targetIqn: string | null;
  targetLun: number | null;
  username: string | null;
  password: string | null;
  initiator: string;
}

/** qemu's `--image-opts` for the export as a raw disk through libiscsi. */
export function iscsiImageOpts(l: IscsiLogin): string {
  return [
    'driver=raw',
    'file.driver=iscsi',
    'file.transport=tcp',
    `file.portal=${l.targetPortal}`,
    `file.target=${l.targetIqn}`,
    `file.lun=${l.targetLun}`,
    `file.user=${l.username}`,
    `file.password=${l.password}`,
    `file.initiator-name=${l.initiator}`,
  ].join(',');
}
