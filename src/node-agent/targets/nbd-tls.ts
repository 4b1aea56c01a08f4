/**
 * NBD attachment exports over TLS (FLINT_NBD_TLS_DIR): the agent checks the credentials
 * directory once at start, so a missing file, a key that does not match its certificate or
 * a certificate for another address stops the agent with a message that says which file to
 * fix — instead of every qemu-nbd failing later, or clients failing their handshake.
 *
 * The directory is in qemu's x509 layout (what `tls-creds-x509,dir=…,endpoint=server` reads):
 * - `ca-cert.pem`: the CA (or CA bundle) that signed the server certificate; clients need it
 *   to verify the server, so the agent hands it out in each NBD connection info; with client
 *   verification, client certificates must be signed by it too;
 * - `server-cert.pem`: the server certificate, naming FLINT_AGENT_ADDRESS (an IP SAN for an
 *   address, a DNS SAN for a name) since that is where clients connect and what they verify;
 * - `server-key.pem`: its private key, unencrypted (qemu-nbd has no passphrase here).
 *
 * Client verification (`verifyClients`, qemu `verify-peer=on`) lets in any client whose
 * certificate that CA signed; Flint does not add a `--tls-authz` list of distinguished names,
 * since it has no per-consumer identity to put there.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { DriverError } from '../drivers/index.js';

/** The files qemu's tls-creds-x509 reads for a server. */
export const NBD_TLS_FILES = { ca: 'ca-cert.pem', cert: 'server-cert.pem', key: 'server-key.pem' } as const;

/** Checked TLS settings of the NBD target. */
export interface NbdTls {
  /** Absolute directory in qemu's x509 layout. */
  dir: string;
  /** Clients must present a certificate signed by the CA (qemu verify-peer). */
  verifyClients: boolean;
  /** `ca-cert.pem` as read: what a client needs to verify the server. */
  caCertificate: string;
  /** Problems that do not stop the agent (e.g. a key readable by others). */
  warnings: string[];
}

/**
 * Reads and checks the TLS directory for a server reached at `address`.
 * @throws DriverError (not retryable) naming the file and what to do.
 */
export async function loadNbdTls(settings: { dir: string; verifyClients: boolean }, address: string, now = new Date()): Promise<NbdTls> {
  const { dir } = settings;
  const fail = (what: string, cause?: unknown): never => {
    throw new DriverError(`FLINT_NBD_TLS_DIR ${dir}: ${what}`, { retryable: false, cause });
  };
  const stat = await fs.stat(dir).catch((err: unknown) => fail(`cannot be read (${(err as Error).message}); create it with ${Object.values(NBD_TLS_FILES).join(', ')}`, err));
  if (!stat.isDirectory()) fail('is not a directory; point it at a directory holding ca-cert.pem, server-cert.pem and server-key.pem');
  const read = async (name: string): Promise<string> => {
    const path = join(dir, name);
    await fs.access(path, constants.R_OK).catch((err: unknown) => fail(`${name} is missing or not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); qemu-nbd needs it to serve NBD over TLS`, err));
    return fs.readFile(path, 'utf8');
  };
  const caPem = await read(NBD_TLS_FILES.ca);
  const certPem = await read(NBD_TLS_FILES.cert);
  const keyPem = await read(NBD_TLS_FILES.key);

  const cas = pemBlocks(caPem, 'CERTIFICATE').map((block, i) => parseCert(block, `${NBD_TLS_FILES.ca} (certificate ${i + 1})`, fail));
  if (cas.length === 0) fail(`${NBD_TLS_FILES.ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  const certBlock = pemBlocks(certPem, 'CERTIFICATE')[0];
  if (!certBlock) fail(`${NBD_TLS_FILES.cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  const cert = parseCert(certBlock!, NBD_TLS_FILES.cert, fail);

  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    fail(`${NBD_TLS_FILES.key} is not an unencrypted PEM private key (${(err as Error).message}); qemu-nbd cannot use a key with a passphrase`, err);
  }
  if (!cert.checkPrivateKey(key!)) fail(`${NBD_TLS_FILES.key} is not the key of ${NBD_TLS_FILES.cert}; put the matching pair there`);
  if (!cas.some((ca) => cert.verify(ca.publicKey))) {
    fail(`${NBD_TLS_FILES.cert} (subject ${cert.subject.replace(/\n/g, ', ')}) is not signed by the CA in ${NBD_TLS_FILES.ca}; clients trusting that CA would refuse the server`);
  }
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now < from || now > to) fail(`${NBD_TLS_FILES.cert} is valid from ${from.toISOString()} to ${to.toISOString()} only; renew it`);
  const named = isIP(address) !== 0 ? cert.checkIP(address) : cert.checkHost(address);
  if (named === undefined) {
    fail(
      `${NBD_TLS_FILES.cert} does not name FLINT_AGENT_ADDRESS ${address} (subjectAltName: ${cert.subjectAltName ?? 'none'}); ` +
        `clients connect to that address and verify it: issue the certificate with subjectAltName ${isIP(address) !== 0 ? 'IP' : 'DNS'}:${address}`,
    );
  }
  const warnings: string[] = [];
  const keyMode = (await fs.stat(join(dir, NBD_TLS_FILES.key))).mode & 0o777;
  if ((keyMode & 0o077) !== 0) warnings.push(`${join(dir, NBD_TLS_FILES.key)} can be read by other users (mode ${keyMode.toString(8)}); chmod 600 it`);
  return { dir, verifyClients: settings.verifyClients, caCertificate: caPem, warnings };
}

function pemBlocks(text: string, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g');
  return text.match(re) ?? [];
}

function parseCert(pem: string, what: string, fail: (what: string, cause?: unknown) => never): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    return fail(`${what} is not a readable X.509 certificate (${(err as Error).message})`, err);
  }
}
