/**
 * Pure helpers that turn what a request or a command brings into bounded metric labels
 * and safe log fields. Everything that comes from a client is checked here, so one
 * client cannot grow the number of series or put its data into the logs.
 */
import { randomUUID } from 'node:crypto';
import { KIND } from '../bus/index.js';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';

/** Label of an operation without a name, or of a request whose document did not parse. */
export const ANONYMOUS = 'anonymous';
/** Label of any value beyond a label's budget, or of a value that is not well-formed. */
export const OTHER = 'other';
/** Distinct operation names kept as labels per process; later ones count as `other`. @default 200 */
export const MAX_OPERATION_NAMES = 200;
/** Longest operation name kept as a label. @default 64 */
export const MAX_OPERATION_NAME_LENGTH = 64;

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A label's allowed values: the first `max` distinct values seen, then `other`. */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  /** `value` when it is already known or there is room for it; `other` otherwise. */
  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(value);
    return value;
  }
}

/**
 * The `operation` label: the operation's name as written in the document, `anonymous`
 * without one, `other` when it is not a GraphQL name, too long, or over the budget.
 */
export function operationLabel(name: string | null | undefined, names: BoundedLabel): string {
  if (name === null || name === undefined || name === '') return ANONYMOUS;
  if (name.length > MAX_OPERATION_NAME_LENGTH || !GRAPHQL_NAME.test(name)) return OTHER;
  return names.label(name);
}

export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

/** The `type` label: the operation's kind, `unknown` when the document did not resolve to one. */
export function operationTypeLabel(type: string | null | undefined): OperationType {
  return type === 'query' || type === 'mutation' || type === 'subscription' ? type : 'unknown';
}

/** The `code` label: one of the public error codes, `OTHER` for anything else. */
export function errorCodeLabel(code: unknown): ErrorCode | 'OTHER' {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'OTHER';
}

/** The codes of formatted GraphQL errors, in order, as labels. */
export function errorCodes(errors: ReadonlyArray<{ extensions?: { code?: unknown } | Record<string, unknown> }> | undefined): string[] {
  return (errors ?? []).map((e) => errorCodeLabel(e.extensions?.code));
}

const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * The request id of an HTTP request: the client's `x-request-id` when it is sane
 * (1 to 128 of `A-Z a-z 0-9 . _ : -`, and not a Flint token sent by mistake), a new
 * UUID otherwise.
 */
export function requestIdFrom(header: string | string[] | undefined, make: () => string = randomUUID): string {
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && SANE_REQUEST_ID.test(value) && !/^flint_/i.test(value)) return value;
  return make();
}

/** The `operationId` of a command payload, for its log lines; undefined when it has none. */
export function operationIdOf(payload: unknown): string | undefined {
  const id = payload && typeof payload === 'object' ? (payload as { operationId?: unknown }).operationId : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** A message a command's handling published. */
export interface Emitted {
  kind: string;
  payload: unknown;
}

export type PlacementOutcome = 'placed' | 'no_valid_backend' | 'waiting';

/**
 * What a scheduler's create decision came to: `waiting` for silent pools' heartbeats,
 * `placed` when it sent the volume to an agent, `no_valid_backend` when it failed it.
 */
export function placementOutcome(decision: 'done' | { retryAfterMs: number }, emitted: readonly Emitted[]): PlacementOutcome {
  if (decision !== 'done') return 'waiting';
  return emitted.some((e) => e.kind === KIND.agentCreate) ? 'placed' : 'no_valid_backend';
}

export type AgentCommandOutcome = 'succeeded' | 'failed' | 'rescheduled' | 'error';

/**
 * What an agent's command came to, from the message it published: an outcome event
 * (`succeeded` / `failed`), the create sent back to the scheduler (`rescheduled`), or
 * nothing (`error`: the command will be redelivered).
 */
export function agentCommandOutcome(emitted: readonly Emitted[]): AgentCommandOutcome {
  const last = emitted[emitted.length - 1];
  if (!last) return 'error';
  if (last.kind === KIND.scheduleCreate) return 'rescheduled';
  const outcome = (last.payload as { outcome?: unknown } | null)?.outcome;
  if (typeof outcome === 'string') return outcome.endsWith('.succeeded') ? 'succeeded' : 'failed';
  return 'error';
}
