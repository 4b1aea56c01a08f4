/**
 * The one list of error codes (src/domain/errors.ts): a stored code not on it reads as
 * INTERNAL, each code says whether a retry can succeed, and the schema's `ErrorCode` enum is
 * that list with a description for every value.
 */
import 'reflect-metadata';
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, type GraphQLEnumType } from 'graphql';
import { DEADLINE_ERROR_CODE } from '../../../src/domain/deadlines.js';
import { ERROR_CODE_MEANINGS, ERROR_CODES, errorCodeOf, isErrorCode, isRetryable, type ErrorCode } from '../../../src/domain/errors.js';
import type { Operation } from '../../../src/db/index.js';
import { OperationObject } from '../../../src/resolvers/types/operation.js';
import { REPO_ROOT } from '../../helpers/docs.js';

test('every code on the list reads as itself', (t) => {
  for (const code of ERROR_CODES) {
    t.true(isErrorCode(code));
    t.is(errorCodeOf(code), code);
  }
});

test('a stored code that is not on the list, or none, reads as INTERNAL', (t) => {
  for (const stray of ['ECONNREFUSED', 'TIMEOUT', 'not_found', 'NOT_FOUND ', '', 'INTERNAL_SERVER_ERROR', 'constructor', 'toString', null, undefined, 42]) {
    t.false(isErrorCode(stray), String(stray));
    t.is(errorCodeOf(stray), 'INTERNAL', String(stray));
  }
});

test('an operation failed by its deadline has a code on the list, and it is retryable', (t) => {
  t.true(isErrorCode(DEADLINE_ERROR_CODE));
  t.true(isRetryable(errorCodeOf(DEADLINE_ERROR_CODE)));
});

const RETRYABLE: Record<ErrorCode, boolean> = {
  UNAUTHENTICATED: false,
  FORBIDDEN: false,
  NOT_FOUND: false,
  BAD_USER_INPUT: false,
  INVALID_STATE: false,
  QUOTA_EXCEEDED: false,
  NO_VALID_BACKEND: false,
  CONFLICT: true,
  SERVICE_UNAVAILABLE: true,
  QUERY_TOO_COMPLEX: false,
  RATE_LIMITED: true,
  RESYNC_REQUIRED: false,
  INTERNAL: false,
};

for (const code of ERROR_CODES) {
  test(`${code} is ${RETRYABLE[code] ? '' : 'not '}retryable, and its description says so`, (t) => {
    t.is(isRetryable(code), RETRYABLE[code]);
    t.is(ERROR_CODE_MEANINGS[code].retryable, RETRYABLE[code]);
    t.regex(ERROR_CODE_MEANINGS[code].description, RETRYABLE[code] ? /Retryable|retry\b/ : /Not retryable/);
  });
}

test('a CONFLICT is retryable when the resource moved, not when another resource holds the key or id', (t) => {
  t.true(isRetryable('CONFLICT', { currentVersion: 4 }));
  t.true(isRetryable('CONFLICT', { currentStatus: 'DELETING' }));
  t.true(isRetryable('CONFLICT', {}), 'no details: "changed while this request ran; retry"');
  t.false(isRetryable('CONFLICT', { volumeId: 'v-1' }), 'an idempotency key used for another volume');
  t.false(isRetryable('CONFLICT', { backupId: 'b-1' }), 'a backup already imported');
});

test('details do not change whether any other code is retryable', (t) => {
  for (const code of ERROR_CODES.filter((c) => c !== 'CONFLICT')) {
    t.is(isRetryable(code, { currentVersion: 1, volumeId: 'v-1', retryAfterSeconds: 3 }), RETRYABLE[code], code);
  }
});

function operationRow(errorCode: string | null, errorMessage: string | null): Operation {
  return {
    id: 'op-1',
    kind: 'create_volume',
    status: errorCode ? 'failed' : 'succeeded',
    resourceType: 'volume',
    resourceId: 'v-1',
    errorCode,
    errorMessage,
    createdAt: new Date(0),
    finishedAt: new Date(1),
  } as Operation;
}

test('a failed operation row reads as its code, whether it is retryable, and its message', (t) => {
  t.like(OperationObject.from(operationRow('NO_VALID_BACKEND', 'No pool has room.')).error, { code: 'NO_VALID_BACKEND', retryable: false, message: 'No pool has room.' });
  t.like(OperationObject.from(operationRow('SERVICE_UNAVAILABLE', 'Nobody answered within 3 s.')).error, { code: 'SERVICE_UNAVAILABLE', retryable: true });
  t.is(OperationObject.from(operationRow(null, null)).error, null);
});

test('an operation row with a code not on the list (an old row, an agent\'s own string) reads as INTERNAL and keeps its message', (t) => {
  const error = OperationObject.from(operationRow('ENOSPC', 'No space left on device.')).error;
  t.like(error, { code: 'INTERNAL', retryable: false, message: 'No space left on device.' });
});

test('the schema\'s ErrorCode enum is the list, with a description for every value, and OperationError uses it', (t) => {
  const schema = buildSchema(readFileSync(join(REPO_ROOT, 'schema', 'schema.graphql'), 'utf8'));
  const enumType = schema.getType('ErrorCode') as GraphQLEnumType | undefined;
  t.truthy(enumType, 'ErrorCode is in schema/schema.graphql (npm run -s schema)');
  t.deepEqual(enumType!.getValues().map((v) => v.name).sort(), [...ERROR_CODES].sort());
  for (const v of enumType!.getValues()) t.is(v.description, ERROR_CODE_MEANINGS[v.name as ErrorCode].description, v.name);
  const fields = schema.getTypeMap().OperationError!.toConfig() as { fields: Record<string, { type: unknown }> };
  t.is(String(fields.fields.code!.type), 'ErrorCode!');
  t.is(String(fields.fields.retryable!.type), 'Boolean!');
});
