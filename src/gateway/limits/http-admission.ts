/**
 * The limits on the HTTP path before GraphQL runs: a `/graphql` request is authenticated
 * and counted against its token's (or address's) bucket, or refused with the status,
 * headers and body to send: 401 UNAUTHENTICATED, 429 RATE_LIMITED with `Retry-After`, or
 * 503 SERVICE_UNAVAILABLE with `Retry-After` when the token cannot be checked.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../../db/index.js';
import { FlintError, RateLimitedError, type ErrorCode } from '../../domain/index.js';
import { AUTH_RETRY_AFTER_SECONDS } from '../http/auth.js';
import { errorBody, type RequestGate } from './request-gate.js';

export interface HttpRefusal {
  status: number;
  code: ErrorCode;
  headers: Record<string, string>;
  body: ReturnType<typeof errorBody>;
}

export type HttpAdmission = { principal: Principal | null } | { refusal: HttpRefusal };

function refusal(e: FlintError): HttpRefusal {
  if (e instanceof RateLimitedError) return { status: 429, code: e.code, headers: { 'retry-after': String(e.retryAfterSeconds) }, body: errorBody(e) };
  return { status: 401, code: e.code, headers: {}, body: errorBody(e) };
}

export async function admitHttp(gate: RequestGate, req: IncomingMessage): Promise<HttpAdmission> {
  // With the limits off nothing is counted by address.
  const address = gate.enabled ? gate.address(req) : '';
  let auth;
  try {
    auth = await gate.authenticate(req.headers.authorization, address);
  } catch (err) {
    // The token could not be checked: 503 with retry-after, never 401 (a client must keep a good token).
    if (err instanceof FlintError && err.code === 'SERVICE_UNAVAILABLE') {
      return { refusal: { status: 503, code: err.code, headers: { 'retry-after': String(AUTH_RETRY_AFTER_SECONDS) }, body: errorBody(err) } };
    }
    throw err;
  }
  if ('refused' in auth) return { refusal: refusal(auth.refused) };
  const limited = gate.take(auth.principal, address);
  if (limited) return { refusal: refusal(limited) };
  return { principal: auth.principal };
}
