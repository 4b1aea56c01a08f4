/**
 * How a role authenticates to NATS (docs/operations.md, "The bus"): an nkey seed file of its own
 * (FLINT_NATS_NKEY_SEED_FILE), optionally over TLS with a CA and a client certificate. With
 * none configured a role refuses to start, unless FLINT_NATS_INSECURE=true says that this
 * NATS is a development one without authentication (the role then logs a warning).
 */
import { resolve } from 'node:path';

/** @default false: a role without NATS credentials refuses to start. */
export const DEFAULT_NATS_INSECURE = false;

export interface NatsAuthConfig {
  /** File with this role's nkey user seed. @default absent */
  readonly nkeySeedFile?: string;
  /** TLS files: the CA that signed the server's certificate, and this client's certificate and key. @default absent: plain TCP */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /** Connect without credentials (a development NATS without authentication). @default false */
  readonly insecure: boolean;
}

export interface NatsAuthRaw {
  natsNkeySeedFile?: string | undefined;
  natsTlsCa?: string | undefined;
  natsTlsCert?: string | undefined;
  natsTlsKey?: string | undefined;
  natsInsecure?: boolean | undefined;
}

export const NATS_AUTH_ENV = {
  FLINT_NATS_NKEY_SEED_FILE: 'file holding this role\'s NATS nkey user seed (one line "SU…", mode 0600; `flint nats-config` makes one per role); required by every role but dev unless FLINT_NATS_INSECURE=true',
  FLINT_NATS_TLS_CA: 'PEM file of the CA that signed the NATS servers\' certificates: connect over TLS and verify them (default unset: plain TCP)',
  FLINT_NATS_TLS_CERT: 'PEM file of this role\'s client certificate, for a NATS that requires one (with FLINT_NATS_TLS_KEY)',
  FLINT_NATS_TLS_KEY: 'PEM file of the key of FLINT_NATS_TLS_CERT',
  FLINT_NATS_INSECURE: 'true: connect to NATS without credentials (a development server without authentication; logged as a warning). Default false: a role without FLINT_NATS_NKEY_SEED_FILE refuses to start',
} as const;

/** Reads the NATS authentication settings; problems are appended to `problems`. */
export function parseNatsAuth(env: Record<string, string | undefined>, raw: NatsAuthRaw, cwd: string, problems: string[]): NatsAuthConfig {
  const str = (key: keyof typeof NATS_AUTH_ENV, fromFile: string | undefined): string | undefined => {
    const v = env[key];
    return v !== undefined && v !== '' ? v : fromFile;
  };
  const file = (key: keyof typeof NATS_AUTH_ENV, fromFile: string | undefined): string | undefined => {
    const v = str(key, fromFile);
    return v === undefined ? undefined : resolve(cwd, v);
  };
  const nkeySeedFile = file('FLINT_NATS_NKEY_SEED_FILE', raw.natsNkeySeedFile);
  const caFile = file('FLINT_NATS_TLS_CA', raw.natsTlsCa);
  const certFile = file('FLINT_NATS_TLS_CERT', raw.natsTlsCert);
  const keyFile = file('FLINT_NATS_TLS_KEY', raw.natsTlsKey);
  if ((certFile === undefined) !== (keyFile === undefined)) problems.push('FLINT_NATS_TLS_CERT and FLINT_NATS_TLS_KEY: give both (a client certificate and its key) or neither');
  const insecureRaw = env.FLINT_NATS_INSECURE;
  if (insecureRaw && insecureRaw !== 'true' && insecureRaw !== 'false') problems.push(`FLINT_NATS_INSECURE: true or false, got "${insecureRaw}"`);
  const insecure = insecureRaw === undefined || insecureRaw === '' ? (raw.natsInsecure ?? DEFAULT_NATS_INSECURE) : insecureRaw === 'true';
  if (insecure && nkeySeedFile) problems.push('FLINT_NATS_INSECURE: true contradicts FLINT_NATS_NKEY_SEED_FILE; drop one of them');
  const tls = caFile || certFile || keyFile ? { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) } : undefined;
  return { ...(nkeySeedFile ? { nkeySeedFile } : {}), ...(tls ? { tls } : {}), insecure };
}

/**
 * Why a role cannot connect to NATS as configured (empty when it can): it needs credentials,
 * or FLINT_NATS_INSECURE=true. Checked by the roles that connect, not by `flint migrate`.
 */
export function natsAuthProblems(c: { natsAuth: NatsAuthConfig }, role: string): string[] {
  if (c.natsAuth.nkeySeedFile || c.natsAuth.insecure) return [];
  return [
    `FLINT_NATS_NKEY_SEED_FILE: required for \`flint ${role}\`: the file with this role's NATS nkey seed (\`flint nats-config\` makes them; docs/operations.md, "The bus"). ` +
      'Only for a development NATS without authentication, set FLINT_NATS_INSECURE=true instead',
  ];
}
