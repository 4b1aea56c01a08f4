/**
 * Throw-away x509 material for NBD-over-TLS tests, made with openssl: a CA, a server
 * certificate it signed (naming 127.0.0.1 unless told otherwise) and a client certificate,
 * laid out as qemu and libnbd read them, plus the CA of a stranger.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsFixture {
  /** FLINT_NBD_TLS_DIR: ca-cert.pem, server-cert.pem, server-key.pem. */
  serverDir: string;
  /** A client's tls-certificates dir: ca-cert.pem, client-cert.pem, client-key.pem. */
  clientDir: string;
  /** A client that trusts the CA but has no certificate of its own: ca-cert.pem only. */
  anonymousDir: string;
  /** A client trusting another CA only (its ca-cert.pem, client-cert.pem, client-key.pem). */
  strangerDir: string;
  /** PEM of the CA. */
  caPem: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function ca(dir: string, name: string): Promise<void> {
  await run('openssl', ['req', '-x509', ...EC, '-keyout', join(dir, 'ca-key.pem'), '-out', join(dir, 'ca-cert.pem'), '-days', '2', '-subj', `/CN=${name}`]);
}

/** Issues `<out>-cert.pem` and `<out>-key.pem` in `dir`, signed by the CA in `caDir`. */
async function issue(caDir: string, dir: string, out: string, cn: string, ext: string): Promise<void> {
  const csr = join(dir, `${out}.csr`);
  const extFile = join(dir, `${out}.ext`);
  await writeFile(extFile, ext);
  await run('openssl', ['req', ...EC, '-keyout', join(dir, `${out}-key.pem`), '-out', csr, '-subj', `/CN=${cn}`]);
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', join(caDir, 'ca-cert.pem'), '-CAkey', join(caDir, 'ca-key.pem'), '-CAcreateserial',
    '-out', join(dir, `${out}-cert.pem`), '-days', '2', '-extfile', extFile,
  ]);
}

/** Makes the fixture under `root`; `san` is the server certificate's subjectAltName. */
export async function makeTlsFixture(root: string, san = 'IP:127.0.0.1'): Promise<TlsFixture> {
  const caDir = join(root, 'ca');
  const otherCa = join(root, 'other-ca');
  const serverDir = join(root, 'server');
  const clientDir = join(root, 'client');
  const anonymousDir = join(root, 'anonymous');
  const strangerDir = join(root, 'stranger');
  for (const d of [caDir, otherCa, serverDir, clientDir, anonymousDir, strangerDir]) await mkdir(d, { recursive: true });
  await ca(caDir, 'Flint test CA');
  await ca(otherCa, 'Some other CA');
  await issue(caDir, serverDir, 'server', 'flint-agent', `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
  await issue(caDir, clientDir, 'client', 'flint-consumer', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  await issue(otherCa, strangerDir, 'client', 'stranger', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  for (const d of [serverDir, clientDir, anonymousDir]) await copyFile(join(caDir, 'ca-cert.pem'), join(d, 'ca-cert.pem'));
  await copyFile(join(otherCa, 'ca-cert.pem'), join(strangerDir, 'ca-cert.pem'));
  await chmod(join(serverDir, 'server-key.pem'), 0o600);
  return { serverDir, clientDir, anonymousDir, strangerDir, caPem: await readFile(join(caDir, 'ca-cert.pem'), 'utf8') };
}
