/**
 * What tgt serves as an export's LUN (pure): the backing file itself (`rdwr`: a raw image), the
 * FUSE view of a qcow2 or encrypted image (`rdwr` on the mountpoint), or an RBD image straight
 * from Ceph through tgt's rbd backing store (`--bstype rbd --backing-store POOL/IMAGE[@SNAP]
 * --bsopts "conf=CONF;id=USER"`; package tgt-rbd). tgt's bsopts take no keyring: when the pool
 * names one, the target points tgt at a conf of its own that adds it (`confWithKeyring`).
 */
import { DriverError, type ImageSource, type RbdLocation } from '../drivers/index.js';

export interface LunBacking {
  bstype: 'rdwr' | 'rbd';
  /** `--backing-store`: a path, or `POOL/IMAGE[@SNAP]`; what `tgtadm --op show` prints as its backing store path. */
  store: string;
  /** `--bsopts` (rbd only). */
  bsopts?: string;
}

/** The `--backing-store` of an RBD image or snapshot. */
export function tgtRbdStore(rbd: Pick<RbdLocation, 'pool' | 'image' | 'snapshot'>): string {
  return `${rbd.pool}/${rbd.image}${rbd.snapshot === undefined ? '' : `@${rbd.snapshot}`}`;
}

/**
 * The LUN of an export of `image`: the FUSE mountpoint when there is one, else the RBD image or
 * the file. `conf` replaces the image's ceph.conf (the conf with its keyring, see `confWithKeyring`).
 * @throws DriverError (not retryable) when a name would break tgt's `;`-separated bsopts.
 */
export function lunBacking(image: Pick<ImageSource, 'path' | 'rbd'>, fuseMountpoint?: string, conf?: string): LunBacking {
  if (fuseMountpoint !== undefined) return { bstype: 'rdwr', store: fuseMountpoint };
  const rbd = image.rbd;
  if (!rbd) return { bstype: 'rdwr', store: image.path };
  const confPath = conf ?? rbd.conf;
  for (const [what, v] of [['conf', confPath], ['user', rbd.user]] as const) {
    if (/[;=\s]/.test(v)) throw new DriverError(`iscsi target: the rbd ${what} "${v}" has a ";", "=" or a space, which tgt's bsopts cannot carry`, { retryable: false });
  }
  return { bstype: 'rbd', store: tgtRbdStore(rbd), bsopts: `conf=${confPath};id=${rbd.user}` };
}

/**
 * Whether a LUN of `image` opened in `mode` is thin-provisioned (tgt's `thin_provisioning=1`):
 * writable LUNs on a raw file of an unencrypted image. The initiator then sends UNMAP, and
 * WRITE SAME with UNMAP for zeros, instead of WRITE SAME that tgt turns into 512-byte writes;
 * tgt punches a hole in the file (any 512-byte range), and the image stays thin.
 *
 * Not the FUSE view of a qcow2 image: qemu-storage-daemon's FUSE export turns a punched hole
 * into a discard, which qcow2 may drop for clusters the range only partly covers. Initiators
 * split WRITE SAME at 65535 blocks (33553920 bytes), so every 32 MiB of zeros would leave a
 * 64 KiB cluster holding its old data: silent corruption (tests/integration/targets-iscsi).
 * Not encrypted images (the FUSE view too, and unmapped ranges would show which blocks are
 * unused), nor RBD LUNs (tgt's rbd backing store has no UNMAP).
 */
export function thinProvisioned(image: Pick<ImageSource, 'rbd' | 'key' | 'format'>, mode: 'rw' | 'ro'): boolean {
  return mode === 'rw' && image.format === 'raw' && !image.rbd && image.key === undefined;
}

/** The text of a ceph.conf that is `conf` plus the keyring of `client.<user>` (a later section's setting wins). */
export function confWithKeyring(conf: string, user: string, keyring: string): string {
  return `${conf.replace(/\n*$/, '\n')}\n# Added by Flint: tgt's rbd backing store takes no keyring option.\n[client.${user}]\n\tkeyring = ${keyring}\n`;
}
