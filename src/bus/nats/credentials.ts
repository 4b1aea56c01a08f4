/**
 * NATS credentials: every role connects with an nkey of its own (the nats-server user it
 * is, with the permissions of src/bus/nats/permissions.ts). The seed file holds the nkey's seed
 * (`SU…`, one line, as `nk -gen user` writes it); the server's configuration holds only the
 * public key (`U…`), so the server config is not a secret and a stolen config logs nobody in.
 *
 * Reading a seed checks everything a connection would otherwise find out late: that the file
 * exists and is readable, that it holds exactly one user seed, and warns when other users may
 * read it. Every failure is a `NatsCredentialsError` that names the file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { nkeyAuthenticator, nkeys, type ConnectionOptions } from '@nats-io/transport-node';

/** A credential problem: which file, and what is wrong with it. */
export class NatsCredentialsError extends Error {
  /** A configuration problem: the CLI exits with 2 (src/cli/main.ts). */
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NatsCredentialsError';
  }
}

/** How a role connects: its nkey seed file and, optionally, TLS files. */
export interface NatsCredentialFiles {
  /** File with the role's nkey user seed; absent only for an unauthenticated server (FLINT_NATS_INSECURE). */
  nkeySeedFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** The connection options of `files` (seed read and checked now; TLS files checked now, read by the client). */
export function natsAuthOptions(files: NatsCredentialFiles, warn?: (message: string) => void): Pick<ConnectionOptions, 'authenticator' | 'tls'> {
  const out: Pick<ConnectionOptions, 'authenticator' | 'tls'> = {};
  if (files.nkeySeedFile) out.authenticator = nkeyAuthenticator(readUserSeed(files.nkeySeedFile, warn));
  if (files.tls) {
    for (const f of [files.tls.caFile, files.tls.certFile, files.tls.keyFile]) if (f) readable(f);
    out.tls = { ...(files.tls.caFile ? { caFile: files.tls.caFile } : {}), ...(files.tls.certFile ? { certFile: files.tls.certFile } : {}), ...(files.tls.keyFile ? { keyFile: files.tls.keyFile } : {}) };
  }
  return out;
}

function readable(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read by this user' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new NatsCredentialsError(file, `${file} ${why}`, { cause: err });
  }
}

/**
 * The user seed in `file`. Blank lines and `#` comments are ignored, so a seed copied out of
 * a `.creds` file's NKEY block (without its dashed lines) works too.
 */
export function readUserSeed(file: string, warn?: (message: string) => void): Uint8Array {
  const text = readable(file).toString('utf8');
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('---'));
  if (lines.length !== 1 || !lines[0]!.startsWith('SU')) {
    throw new NatsCredentialsError(file, `${file} does not hold one nkey user seed (a line starting with "SU", as \`flint nats-config\` or \`nk -gen user\` writes it)`);
  }
  const seed = new TextEncoder().encode(lines[0]);
  try {
    nkeys.fromSeed(seed).getPublicKey();
  } catch (err) {
    throw new NatsCredentialsError(file, `${file} holds a malformed nkey seed (${(err as Error).message})`, { cause: err });
  }
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) warn?.(`${file} is readable by other users (mode ${mode.toString(8)}): make it 0600, it logs in to NATS`);
  } catch {
    // Read a moment ago: a stat failing now changes nothing.
  }
  return seed;
}

/** The public key (`U…`) of a user seed. */
export function publicKeyOf(seed: Uint8Array): string {
  return nkeys.fromSeed(seed).getPublicKey();
}

/**
 * The seed in `file`, or a new user nkey written there (mode 0600, its directory created 0700)
 * when the file does not exist. Returns the public key either way.
 */
export function ensureUserSeed(file: string): string {
  if (existsSync(file)) return publicKeyOf(readUserSeed(file));
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const kp = nkeys.createUser();
  writeFileSync(file, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return kp.getPublicKey();
}

/** Whether a connection failed because the server refused who we are (not because it is down). */
export function isAuthRefusal(err: unknown): boolean {
  const text = `${(err as Error | undefined)?.name ?? ''} ${(err as Error | undefined)?.message ?? String(err)}`;
  return /authoriz|authentic|AuthorizationError|nkey/i.test(text);
}

/** Whether a connection failed in the TLS handshake or for want of TLS. */
export function isTlsFailure(err: unknown): boolean {
  const text = `${(err as Error | undefined)?.message ?? String(err)} ${String((err as { cause?: unknown } | undefined)?.cause ?? '')}`;
  return /tls|ssl|certificate|self[- ]signed|handshake/i.test(text);
}
