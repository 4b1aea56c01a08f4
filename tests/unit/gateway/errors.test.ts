/** `formatError` of src/gateway/http/errors.ts: the one place errors become what GraphQL clients see. */
import test from 'ava';
import { GraphQLError, buildSchema, graphql, parse, validate, type GraphQLFormattedError } from 'graphql';
import { pino } from 'pino';
import type { Logger } from '../../../src/config/logger.js';
import {
  BadInputError,
  ConflictError,
  ForbiddenError,
  FlintError,
  InvalidStateError,
  NoValidBackendError,
  NotFoundError,
  RateLimitedError,
  ServiceUnavailableError,
  UnauthenticatedError,
  isRetryable,
} from '../../../src/domain/errors.js';
import { formatError } from '../../../src/gateway/http/errors.js';
import { lostConnection } from '../../../src/db/connection-errors.js';
import { DriverException } from '@mikro-orm/core';

const silent: Logger = pino({ level: 'silent' });

/** A logger that keeps what `error` was called with. */
function recordingLogger(): { log: Logger; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const log = { error: (...args: unknown[]) => void calls.push(args) } as unknown as Logger;
  return { log, calls };
}

/** The error as graphql-js reports one thrown by a resolver at `volume`. */
function fromResolver(original: Error): GraphQLError {
  return new GraphQLError(original.message, { path: ['volume'], originalError: original });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const schema = buildSchema(`
  type Query {
    volume(id: ID!, first: Int): Volume
    count: Int
    names: [String]
  }
  type Volume { id: ID!, name: String! }
`);

async function executionErrors(source: string, rootValue: Record<string, unknown>, variableValues?: Record<string, unknown>): Promise<readonly GraphQLError[]> {
  const result = await graphql({ schema, source, rootValue, variableValues });
  if (!result.errors?.length) throw new Error(`expected errors from ${source}`);
  return result.errors;
}

// FlintError subclasses

const flintErrors: Array<[string, FlintError]> = [
  ['UnauthenticatedError', new UnauthenticatedError()],
  ['ForbiddenError', ForbiddenError.readOnly()],
  ['NotFoundError', new NotFoundError('Volume', 'v-1')],
  ['BadInputError', new BadInputError(['name must not be empty or blank', 'size must be a whole number of GiB from 1 to 65536 (got 0)'])],
  ['InvalidStateError', new InvalidStateError('The volume is IN_USE and cannot be deleted.', { currentStatus: 'IN_USE', allowedStatuses: ['AVAILABLE'] })],
  ['ConflictError', new ConflictError('Version 3 is stale; the volume is at version 4.', { currentVersion: 4 })],
  ['NoValidBackendError', new NoValidBackendError('No pool has 10 GiB free.', { sizeGiB: 10 })],
  ['ServiceUnavailableError', new ServiceUnavailableError('The message bus is down; retry later.', new Error('ECONNREFUSED 10.0.0.1:4222'))],
];

for (const [name, err] of flintErrors) {
  test(`a ${name} thrown by a resolver keeps its code ${err.code}, message and details`, (t) => {
    const gqlError = fromResolver(err);
    const out = formatError(gqlError.toJSON(), gqlError, silent);
    t.is(out.message, err.message);
    t.deepEqual(out.extensions, { ...err.details, code: err.code, retryable: isRetryable(err.code, err.details) });
    t.deepEqual(out.path, ['volume']);
  });
}

test('a FlintError keeps its code even when Apollo formatted it as INTERNAL_SERVER_ERROR', (t) => {
  const err = new NotFoundError('Volume', 'v-9');
  const gqlError = fromResolver(err);
  const formatted: GraphQLFormattedError = { ...gqlError.toJSON(), extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  const out = formatError(formatted, gqlError, silent);
  t.is(out.extensions?.code, 'NOT_FOUND');
  t.deepEqual(out.extensions, { kind: 'Volume', id: 'v-9', code: 'NOT_FOUND', retryable: false });
});

test('a retryable failure says so in extensions.retryable, and a refusal of the request does not', (t) => {
  const unavailable = fromResolver(new ServiceUnavailableError('The database did not answer; retry shortly.'));
  t.is(formatError(unavailable.toJSON(), unavailable, silent).extensions?.retryable, true);
  const limited = fromResolver(new RateLimitedError('Too many requests; try again in 3 s.', 3));
  t.deepEqual(formatError(limited.toJSON(), limited, silent).extensions, { code: 'RATE_LIMITED', retryAfterSeconds: 3, retryable: true });
  const input = fromResolver(new BadInputError(['size must be a whole number of GiB from 1 to 65536 (got 0)']));
  t.is(formatError(input.toJSON(), input, silent).extensions?.retryable, false);
});

test('a CONFLICT over an idempotency key held by another volume is not retryable; one over a stale version is', (t) => {
  const held = fromResolver(new ConflictError('idempotencyKey "k" was already used for volume v-1 with other parameters; use a new key.', { volumeId: 'v-1' }));
  t.deepEqual(formatError(held.toJSON(), held, silent).extensions, { code: 'CONFLICT', volumeId: 'v-1', retryable: false });
  const stale = fromResolver(new ConflictError('Volume v-1 is at version 4, not the expected 3.', { currentVersion: 4 }));
  t.is(formatError(stale.toJSON(), stale, silent).extensions?.retryable, true);
});

test('a FlintError wrapped twice in GraphQLErrors is still found', (t) => {
  const err = new InvalidStateError('no', { currentStatus: 'DELETING' });
  const inner = new GraphQLError('no', { originalError: err });
  const outer = new GraphQLError('no', { path: ['a', 0, 'b'], originalError: inner });
  const out = formatError(outer.toJSON(), outer, silent);
  t.deepEqual(out.extensions, { currentStatus: 'DELETING', code: 'INVALID_STATE', retryable: false });
  t.deepEqual(out.path, ['a', 0, 'b']);
});

test('a FlintError\'s details cannot override its code', (t) => {
  const err = new FlintError('CONFLICT', 'stale', { details: { code: 'INTERNAL', currentVersion: 2 } });
  const gqlError = fromResolver(err);
  t.deepEqual(formatError(gqlError.toJSON(), gqlError, silent).extensions, { code: 'CONFLICT', currentVersion: 2, retryable: true });
});

test('a FlintError\'s cause never reaches the client', (t) => {
  const err = new ServiceUnavailableError('The message bus is down; retry later.', new Error('ECONNREFUSED 10.0.0.1:4222'));
  const gqlError = fromResolver(err);
  const json = JSON.stringify(formatError(gqlError.toJSON(), gqlError, silent));
  t.false(json.includes('ECONNREFUSED'));
  t.false(json.includes('10.0.0.1'));
});

// GraphQL's own request errors

test('a GraphQL validation error (as Apollo formats it) becomes BAD_USER_INPUT with its message', (t) => {
  const [err] = validate(schema, parse('{ volume(id: "1") { size } }'));
  t.truthy(err);
  const formatted: GraphQLFormattedError = { ...err!.toJSON(), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
  const out = formatError(formatted, err, silent);
  t.deepEqual(out.extensions, { code: 'BAD_USER_INPUT', retryable: false });
  t.is(out.message, 'Cannot query field "size" on type "Volume".');
  t.deepEqual(out.locations, err!.locations);
});

test('a GraphQL validation error without any code becomes BAD_USER_INPUT', (t) => {
  const errors = validate(schema, parse('{ volume { id } nope }'));
  t.true(errors.length >= 2);
  for (const err of errors) {
    const out = formatError(err.toJSON(), err, silent);
    t.deepEqual(out.extensions, { code: 'BAD_USER_INPUT', retryable: false }, err.message);
    t.is(out.message, err.message);
  }
});

test('a GraphQL syntax error becomes BAD_USER_INPUT', (t) => {
  const err = t.throws(() => parse('{ volume(id: "1") { id '), { instanceOf: GraphQLError });
  const formatted: GraphQLFormattedError = { ...err.toJSON(), extensions: { code: 'GRAPHQL_PARSE_FAILED' } };
  t.deepEqual(formatError(formatted, err, silent).extensions, { code: 'BAD_USER_INPUT', retryable: false });
  t.deepEqual(formatError(err.toJSON(), err, silent).extensions, { code: 'BAD_USER_INPUT', retryable: false });
});

test('a variable of the wrong type becomes BAD_USER_INPUT', async (t) => {
  const [err] = await executionErrors('query ($first: Int) { volume(id: "1", first: $first) { id } }', {}, { first: 1.5 });
  const out = formatError(err!.toJSON(), err, silent);
  t.deepEqual(out.extensions, { code: 'BAD_USER_INPUT', retryable: false });
  t.regex(out.message, /^Variable "\$first" got invalid value 1\.5/);
});

test('a GraphQLError with a public code from a library keeps that code', (t) => {
  const err = new GraphQLError('Token expired', { path: ['volume'], extensions: { code: 'UNAUTHENTICATED' } });
  t.deepEqual(formatError(err.toJSON(), err, silent), { locations: undefined, path: ['volume'], message: 'Token expired', extensions: { code: 'UNAUTHENTICATED', retryable: false } });
});

// everything else

test('an unknown Error becomes INTERNAL with a correlation id and nothing of its message or stack', (t) => {
  const secret = new Error('password authentication failed for postgres://flint:hunter2@10.1.2.3:5432/flint');
  const gqlError = fromResolver(secret);
  const formatted: GraphQLFormattedError = {
    ...gqlError.toJSON(),
    extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: secret.stack?.split('\n') },
  };
  const out = formatError(formatted, gqlError, silent);
  t.is(out.extensions?.code, 'INTERNAL');
  const correlationId = out.extensions?.correlationId;
  t.is(typeof correlationId, 'string');
  t.regex(correlationId as string, UUID);
  t.deepEqual(Object.keys(out.extensions ?? {}).sort(), ['code', 'correlationId', 'retryable']);
  t.is(out.extensions?.retryable, false);
  t.true(out.message.includes(correlationId as string), 'the message tells the id to report');
  t.deepEqual(out.path, ['volume']);
  const json = JSON.stringify(out);
  for (const leak of ['ECONNREFUSED', 'hunter2', '10.1.2.3', 'postgres://', 'stacktrace', secret.stack!.split('\n')[1]!.trim()]) {
    t.false(json.includes(leak), `output contains ${JSON.stringify(leak)}`);
  }
});

test('an unknown Error is logged with the same correlation id the client gets', (t) => {
  const { log, calls } = recordingLogger();
  const secret = new TypeError('Cannot read properties of undefined (reading \'id\')');
  const gqlError = fromResolver(secret);
  const out = formatError(gqlError.toJSON(), gqlError, log);
  t.is(calls.length, 1);
  const [fields, message] = calls[0] as [Record<string, unknown>, string];
  t.is(fields.err, secret, 'the original error, with its stack, goes to the log');
  t.is(fields.correlationId, out.extensions?.correlationId);
  t.deepEqual(fields.path, ['volume']);
  t.is(typeof message, 'string');
});

test('two unknown errors get two correlation ids', (t) => {
  const a = fromResolver(new Error('a'));
  const b = fromResolver(new Error('b'));
  t.not(formatError(a.toJSON(), a, silent).extensions?.correlationId, formatError(b.toJSON(), b, silent).extensions?.correlationId);
});

test('a thrown non-Error value becomes INTERNAL', (t) => {
  const out = formatError({ message: 'Unexpected error value: "kaboom"', path: ['volume'] }, 'kaboom', silent);
  t.is(out.extensions?.code, 'INTERNAL');
  t.false(JSON.stringify(out).includes('kaboom'));
});

test('a field value the server cannot serialise is INTERNAL, not BAD_USER_INPUT, and its value is not shown', async (t) => {
  // The client sent nothing wrong: a resolver returned an object for an Int field.
  const [err] = await executionErrors('{ count }', { count: () => ({ internalRow: 'secret-row' }) });
  const out = formatError(err!.toJSON(), err, silent);
  t.is(out.extensions?.code, 'INTERNAL', `got ${JSON.stringify(out)}`);
  t.false(JSON.stringify(out).includes('secret-row'));
});

test('a list field whose resolver returned a non-list is INTERNAL, not BAD_USER_INPUT', async (t) => {
  const [err] = await executionErrors('{ names }', { names: () => 'not a list' });
  const out = formatError(err!.toJSON(), err, silent);
  t.is(out.extensions?.code, 'INTERNAL', `got ${JSON.stringify(out)}`);
});

test('a null for a non-null field (a server bug) is INTERNAL', async (t) => {
  const [err] = await executionErrors('{ volume(id: "1") { id name } }', { volume: () => ({ id: '1', name: null }) });
  const out = formatError(err!.toJSON(), err, silent);
  t.is(out.extensions?.code, 'INTERNAL');
});

// A database out of reach

test('a connection that broke at COMMIT is SERVICE_UNAVAILABLE, retryable, and says the change may have been made', (t) => {
  // As MikroORM reports pg's failure of the COMMIT statement when PostgreSQL stops under it.
  const pg = new Error('Connection terminated unexpectedly');
  const err = new DriverException(Object.assign(new Error(`COMMIT; - ${pg.message}`), { cause: pg }));
  const gqlError = fromResolver(err);
  const out = formatError(gqlError.toJSON(), gqlError, pino({ level: 'silent' }));
  t.like(out.extensions, { code: 'SERVICE_UNAVAILABLE', retryable: true });
  t.regex(out.message, /may or may not have been made/);
  t.regex(out.message, /same idempotencyKey/);
  t.notRegex(out.message, /nothing was changed/i);
});

for (const [what, err] of [
  ['a refused connection', new DriverException(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))],
  ['a server shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
  ['a server starting up (57P03)', Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
  ['a pool that cannot get a connection', new Error('Knex: Timeout acquiring a connection. The pool is probably full.')],
] as const) {
  test(`${what} is SERVICE_UNAVAILABLE and retryable, not INTERNAL`, (t) => {
    const gqlError = fromResolver(err);
    const out = formatError(gqlError.toJSON(), gqlError, pino({ level: 'silent' }));
    t.like(out.extensions, { code: 'SERVICE_UNAVAILABLE', retryable: true });
    t.regex(out.message, /could not be reached/);
    t.notRegex(out.message, /127\.0\.0\.1|ECONN|57P0|Knex/, 'nothing of the original error');
    t.is(out.extensions?.correlationId, undefined);
  });
}

test('lostConnection: a statement the database refused is not a lost connection', (t) => {
  t.is(lostConnection(Object.assign(new Error('duplicate key value violates unique constraint "volume_pkey"'), { code: '23505' })), undefined);
  t.is(lostConnection(Object.assign(new Error('SQLITE_BUSY: database is locked'), { code: 'SQLITE_BUSY' })), undefined);
  t.is(lostConnection(new Error('COMMIT; - deadlock detected')), undefined, 'a COMMIT that failed for another reason');
  t.deepEqual(lostConnection(new Error('select 1 - Connection terminated unexpectedly')), { atCommit: false });
});
