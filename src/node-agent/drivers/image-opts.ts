/**
 * How qemu tools (qemu-img, qemu-nbd, qemu-storage-daemon) open an image, encrypted or not:
 * the one place that knows qemu's LUKS spellings.
 *
 * - qcow2 volumes use qcow2's built-in LUKS (`encrypt.format=luks`): the qcow2 metadata stays
 *   clear, every data cluster is encrypted.
 * - raw volumes are a LUKS container (qemu's `luks` format driver over the file): the header
 *   first, then the encrypted payload. qemu-img probes such a file as `luks`, not `raw`.
 *
 * The key (a passphrase) reaches qemu through a `secret` object reading a private file
 * (`withSecretFile`): never on a command line, which every local user can read. Pure but for
 * `withSecretFile`.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/**
 * The `--image-opts` string of an image (commas in the path doubled, qemu's escape), decrypting
 * with the secret `secretId` when `encrypted`.
 */
export function imageOptsString(path: string, format: ImageFormat, encrypted: boolean, secretId = KEY_SECRET_ID): string {
  const opts = `driver=${qemuFormat(format, encrypted)},file.driver=file,file.filename=${path.replaceAll(',', ',,')}`;
  return encrypted ? `${opts},${keyOption(format, secretId)}` : opts;
}

/** The format layer of a `--blockdev` in JSON syntax, over the node `file`, decrypting when `encrypted`. */
export function formatBlockdev(format: ImageFormat, encrypted: boolean, base: Record<string, unknown>): Record<string, unknown> {
  const node: Record<string, unknown> = { driver: qemuFormat(format, encrypted), ...base };
  if (encrypted && format === 'qcow2') node.encrypt = { format: 'luks', 'key-secret': KEY_SECRET_ID };
  else if (encrypted) node['key-secret'] = KEY_SECRET_ID;
  return node;
}

/** A `json:` file name that opens the image decrypted with the secret `secretId` (for tools that take no `--image-opts` per image, e.g. `qemu-img compare`). */
export function jsonImageName(path: string, format: ImageFormat, secretId = KEY_SECRET_ID): string {
  const node = { ...formatBlockdev(format, true, { file: { driver: 'file', filename: path } }) };
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
