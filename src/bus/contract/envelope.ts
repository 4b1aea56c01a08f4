/**
 * The versioned envelope every Flint message travels in: `{v, id, kind, at, requestId?, payload}`.
 * Senders `encode`, receivers `decode` with the kind's schema; a message that does not
 * match is rejected with a `ContractError` naming the problem (and is not retried).
 * `requestId` (optional, added within v1) names the API request a command came from, so
 * one request can be followed through the logs of every role.
 */
import { z } from 'zod';

/**
 * The contract version, carried as `v` by every message (heartbeats included, so a role can
 * tell which peers speak an older one). Bumped whenever the wire changes:
 * - 1: the first contract;
 * - 2: the bus became a trust boundary: senders in subjects (`flint.evt.agent.<host>.…`,
 *   `flint.evt.scheduler.…`, `flint.progress.agent.<host>.…`, `flint.rpc.reconcile.<host>`),
 *   live messages that name what changed (each gateway reads it from the database), and an
 *   agent's failed create goes back through the gateways (`volume.reschedule`).
 */
export const ENVELOPE_VERSION = 2;

export interface Envelope<P> {
  v: number;
  id: string;
  kind: string;
  at: string;
  /** The API request this message descends from; absent on heartbeats and from older builds. */
  requestId?: string;
  payload: P;
}

/** Optional fields of an envelope beside its payload. */
export interface EnvelopeMeta {
  requestId?: string | undefined;
}

const envelopeSchema = z.object({
  v: z.number().int(),
  id: z.string().min(1),
  kind: z.string().min(1),
  at: z.string(),
  // Only for logs: a malformed one is dropped rather than failing the message.
  requestId: z.string().min(1).max(128).optional().catch(undefined),
  payload: z.unknown(),
});

export class ContractError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContractError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encode<P>(kind: string, payload: P, id: string = crypto.randomUUID(), meta: EnvelopeMeta = {}): Uint8Array {
  const env: Envelope<P> = { v: ENVELOPE_VERSION, id, kind, at: new Date().toISOString(), ...(meta.requestId ? { requestId: meta.requestId } : {}), payload };
  return encoder.encode(JSON.stringify(env));
}

/** Parses the envelope only; `decodePayload` then checks the payload against its kind. */
export function decodeEnvelope(data: Uint8Array): Envelope<unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new ContractError('message is not JSON', { cause: err });
  }
  const env = envelopeSchema.safeParse(raw);
  if (!env.success) throw new ContractError(`message is not a Flint envelope: ${z.prettifyError(env.error)}`);
  if (env.data.v !== ENVELOPE_VERSION) {
    throw new ContractError(
      env.data.v < ENVELOPE_VERSION
        ? `message of contract v${env.data.v} from an older Flint: this build speaks v${ENVELOPE_VERSION}; upgrade every gateway, scheduler and agent`
        : `message of contract v${env.data.v} from a newer Flint: this build speaks v${ENVELOPE_VERSION}; upgrade this process`,
    );
  }
  return env.data as Envelope<unknown>;
}

export function decodePayload<S extends z.ZodType>(env: Envelope<unknown>, schema: S): z.infer<S> {
  const p = schema.safeParse(env.payload);
  if (!p.success) throw new ContractError(`${env.kind} payload is invalid: ${z.prettifyError(p.error)}`);
  return p.data;
}

export function decode<S extends z.ZodType>(data: Uint8Array, kind: string, schema: S): Envelope<z.infer<S>> {
  const env = decodeEnvelope(data);
  if (env.kind !== kind) throw new ContractError(`expected a ${kind} message, got ${env.kind}`);
  return { ...env, payload: decodePayload(env, schema) };
}
