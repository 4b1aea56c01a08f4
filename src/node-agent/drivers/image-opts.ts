/**
 * How qemu tools (qemu-img, qemu-nbd, qemu-storage-daemon) open an image, encrypted or not:
 * the one place that knows qemu's LUKS spellings.
 *
 * - qcow2 volumes use qcow2's built-in LUKS (`encrypt.format=luks`): the qcow2 metadata stays
 *   clear, every data cluster is encrypted.
 * - raw volumes are a LUKS container (qemu's `luks` format driver over the file): the header
 *   first, then the encrypted payload. qemu-img probes such a file as `luks`, not `raw`.
 *
 * The protocol layer under the format layer is a local file, or an RBD image in Ceph (the `rbd`
 * driver: `protocolNode`), whatever the format and the encryption.
 *
 * The key (a passphrase) reaches qemu through a `secret` object reading a private file
 * (`withSecretFile`): never on a command line, which every local user can read. Pure but for
 * `withSecretFile`.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RbdLocation } from './driver.js';

/** An image's format on the pool (qemu-img.ts's `ImageFormat`, repeated here: qemu-img.ts imports this module). */
type ImageFormat = 'raw' | 'qcow2';

/** The id of the secret object holding an image's key. */
export const KEY_SECRET_ID = 'flint-key';
/** The id of the secret object holding the key of a copy's new image. */
export const NEW_KEY_SECRET_ID = 'flint-new-key';

/** qemu's format driver for an image's bytes: an encrypted raw volume is a LUKS container. */
export function qemuFormat(format: ImageFormat, encrypted: boolean): 'raw' | 'qcow2' | 'luks' {
  return format === 'raw' && encrypted ? 'luks' : format;
}

/** Whether only a qemu process can show the image's plaintext (tgt reads raw plaintext files only). */
export function needsQemuView(image: { format: ImageFormat; key?: string | undefined }): boolean {
  return image.format === 'qcow2' || image.key !== undefined;
}

/** `--object secret,…` reading the key from `file` (QemuOpts: commas doubled). */
export function secretObjectArgs(file: string, id = KEY_SECRET_ID): string[] {
  return ['--object', `secret,id=${id},file=${file.replaceAll(',', ',,')}`];
}

/** The keys, in QemuOpts dotted syntax, that make a format layer decrypt with the secret `secretId`. */
export function keyOption(format: ImageFormat, secretId = KEY_SECRET_ID): string {
  return format === 'qcow2' ? `encrypt.key-secret=${secretId}` : `key-secret=${secretId}`;
}

/** An image as the helpers below take it: `ImageSource`'s `path` and, for an RBD image, its `rbd`. */
export interface ImageLocation {
  path: string;
  rbd?: RbdLocation | undefined;
}

/** Whether `path` is an `rbd:` file name (the rbd driver's `ImageSource.path`, `VolumeInfo.location`). */
export function isRbdFilename(path: string): boolean {
  return path.startsWith('rbd:');
}

/**
 * The protocol node (the bottom of a `--blockdev` / `json:` tree) of an image: `{"driver":"file",
 * "filename":…}`, or for an RBD image `{"driver":"rbd","pool":…,"image":…,"snapshot":…,"conf":…,
 * "user":…}`. qemu's rbd node has no keyring option: a keyring the conf does not find goes in the
 * `=keyvalue-pairs` option, which `json:` file names and `--image-opts` take but QAPI's strict
 * `--blockdev` / `blockdev-add` (qemu-storage-daemon) refuse; such a daemon needs the keyring
 * where the conf finds it (its `keyring` setting, or /etc/ceph/ceph.client.USER.keyring).
 * Spread `extra` (`node-name`, `read-only`, `cache`, `discard`…) over it.
 */
export function protocolNode(image: ImageLocation, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const r = image.rbd;
  if (!r) return { driver: 'file', filename: image.path, ...extra };
  return {
    driver: 'rbd',
    pool: r.pool,
    image: r.image,
    ...(r.snapshot === undefined ? {} : { snapshot: r.snapshot }),
    conf: r.conf,
    user: r.user,
    ...(r.keyring === undefined ? {} : { '=keyvalue-pairs': JSON.stringify(['keyring', r.keyring]) }),
    ...extra,
  };
}

/**
 * The `--image-opts` string of an image (commas in the path doubled, qemu's escape), decrypting
 * with the secret `secretId` when `encrypted`. An `rbd:` file name is handed to the rbd protocol
 * driver, which parses it (keyring included).
 */
export function imageOptsString(path: string, format: ImageFormat, encrypted: boolean, secretId = KEY_SECRET_ID): string {
  const protocol = isRbdFilename(path) ? 'rbd' : 'file';
  const opts = `driver=${qemuFormat(format, encrypted)},file.driver=${protocol},file.filename=${path.replaceAll(',', ',,')}`;
  return encrypted ? `${opts},${keyOption(format, secretId)}` : opts;
}

/** The format layer of a `--blockdev` in JSON syntax, over the node `file`, decrypting when `encrypted`. */
export function formatBlockdev(format: ImageFormat, encrypted: boolean, base: Record<string, unknown>): Record<string, unknown> {
  const node: Record<string, unknown> = { driver: qemuFormat(format, encrypted), ...base };
  if (encrypted && format === 'qcow2') node.encrypt = { format: 'luks', 'key-secret': KEY_SECRET_ID };
  else if (encrypted) node['key-secret'] = KEY_SECRET_ID;
  return node;
}

/**
 * A `json:` file name that opens the image decrypted with the secret `secretId` (for tools that
 * take no `--image-opts` per image, e.g. `qemu-img compare`); `image` a path or an `ImageLocation`.
 */
export function jsonImageName(image: string | ImageLocation, format: ImageFormat, secretId = KEY_SECRET_ID): string {
  const location = typeof image === 'string' ? { path: image } : image;
  const file = location.rbd ? protocolNode(location) : isRbdFilename(location.path) ? { driver: 'rbd', filename: location.path } : protocolNode(location);
  const node = { ...formatBlockdev(format, true, { file }) };
  if (secretId !== KEY_SECRET_ID) {
    if (format === 'qcow2') node.encrypt = { format: 'luks', 'key-secret': secretId };
    else node['key-secret'] = secretId;
  }
  return `json:${JSON.stringify(node)}`;
}

/**
 * The `-o` creation options of a new encrypted image, LUKS options from
 * `luksQemuOptions` (src/domain/encryption.ts): qcow2 prefixes them with `encrypt.`.
 */
export function encryptedCreateOptions(format: ImageFormat, luks: Record<string, string>, secretId = KEY_SECRET_ID): string {
  const prefix = format === 'qcow2' ? 'encrypt.' : '';
  const entries = Object.entries({ ...(format === 'qcow2' ? { format: 'luks' } : {}), 'key-secret': secretId, ...luks });
  return entries.map(([k, v]) => `${prefix}${k}=${v}`).join(',');
}

/**
 * Runs `fn` with each passphrase in a file of its own, readable by this user only, in a
 * private directory removed afterwards (also when `fn` fails). An undefined passphrase gets
 * no file. The caller's qemu process must have read its files before `fn` resolves.
 */
export async function withSecretFiles<T>(passphrases: readonly (string | undefined)[], fn: (files: (string | undefined)[]) => Promise<T>): Promise<T> {
  if (passphrases.every((p) => p === undefined)) return fn(passphrases.map(() => undefined));
  const dir = await fs.mkdtemp(join(tmpdir(), 'flint-key-'));
  try {
    await fs.chmod(dir, 0o700);
    const files: (string | undefined)[] = [];
    for (const p of passphrases) {
      if (p === undefined) {
        files.push(undefined);
        continue;
      }
      const file = join(dir, randomBytes(6).toString('hex'));
      await fs.writeFile(file, p, { mode: 0o600, flag: 'wx' });
      files.push(file);
    }
    return await fn(files);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
