/**
 * The optional bearer token of `/metrics` (every role). It is read from the file named by
 * FLINT_METRICS_TOKEN_FILE (a file keeps the secret out of the environment, process
 * listings and shell history) and compared in constant time. Without it `/metrics` is
 * open, as before: keep the port off untrusted networks then.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../config/config.js';

/** A metrics token shorter than this is refused at start: it would be guessable. @default 16 */
export const METRICS_TOKEN_MIN_LENGTH = 16;

export const METRICS_UNAUTHORIZED = { error: 'unauthorized: /metrics needs "Authorization: Bearer <token>" with the token of FLINT_METRICS_TOKEN_FILE' };

/**
 * The token in the configured file (surrounding whitespace removed), or undefined when
 * none is configured.
 * @throws ConfigError when the file cannot be read or holds too short a token.
 */
export function loadMetricsToken(config: { readonly metricsTokenFile?: string | undefined }): string | undefined {
  const file = config.metricsTokenFile;
  if (file === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([`FLINT_METRICS_TOKEN_FILE ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it names a file holding the token, not the token itself`]);
  }
  if (token.length < METRICS_TOKEN_MIN_LENGTH || /\s/.test(token)) {
    throw new ConfigError([
      `FLINT_METRICS_TOKEN_FILE ${file}: the token must be at least ${METRICS_TOKEN_MIN_LENGTH} characters without spaces (make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE)`,
    ]);
  }
  return token;
}

/** The metrics token's problems, for a role's start-up configuration check (exit 2). */
export function metricsTokenProblems(config: { readonly metricsTokenFile?: string | undefined }): string[] {
  try {
    loadMetricsToken(config);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether a request may read `/metrics`: always without a token, else with `Authorization: Bearer <token>` (constant-time comparison). */
export function metricsAuthorized(req: Pick<IncomingMessage, 'headers'>, token: string | undefined): boolean {
  if (token === undefined) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  // Digests have one length whatever was sent, so the comparison reveals nothing, not even the length.
  return timingSafeEqual(digest(m?.[1] ?? ''), digest(token)) && m !== null;
}
