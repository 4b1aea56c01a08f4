import test from 'ava';
import { backoffMs, isNotSent, shouldRetry, waitMs, type AttemptFailure } from '../../../src/client/retry.js';

const unavailable: AttemptFailure = { code: 'SERVICE_UNAVAILABLE', status: 200, notSent: false };
const refused: AttemptFailure = { code: 'NETWORK', status: 0, notSent: true };
const reset: AttemptFailure = { code: 'NETWORK', status: 0, notSent: false };
const badGateway: AttemptFailure = { code: 'NETWORK', status: 502, notSent: false };

const cases: Array<[string, AttemptFailure, { attempt: number; mutation: boolean }, boolean]> = [
  ['SERVICE_UNAVAILABLE is retried', unavailable, { attempt: 1, mutation: false }, true],
  ['SERVICE_UNAVAILABLE is retried for a mutation too (nothing was done)', unavailable, { attempt: 1, mutation: true }, true],
  ['a refused connection is retried', refused, { attempt: 1, mutation: true }, true],
  ['a lost answer is retried for a query', reset, { attempt: 2, mutation: false }, true],
  ['a lost answer is not retried for a mutation (it may have run)', reset, { attempt: 1, mutation: true }, false],
  ['a 502 without a GraphQL body is retried for a query', badGateway, { attempt: 1, mutation: false }, true],
  ['nothing is retried after the last try', unavailable, { attempt: 3, mutation: false }, false],
  ['BAD_USER_INPUT is never retried', { code: 'BAD_USER_INPUT', status: 200, notSent: false }, { attempt: 1, mutation: false }, false],
  ['UNAUTHENTICATED is never retried', { code: 'UNAUTHENTICATED', status: 401, notSent: false }, { attempt: 1, mutation: false }, false],
  ['a non-GraphQL 404 is not retried', { code: 'NETWORK', status: 404, notSent: false }, { attempt: 1, mutation: false }, false],
  ['RATE_LIMITED with a short wait is retried, for a mutation too (nothing ran)', { code: 'RATE_LIMITED', status: 429, notSent: false, retryAfterMs: 1000 }, { attempt: 1, mutation: true }, true],
  ['RATE_LIMITED asking for a long wait is left to the caller', { code: 'RATE_LIMITED', status: 429, notSent: false, retryAfterMs: 60_000 }, { attempt: 1, mutation: false }, false],
  ['QUERY_TOO_COMPLEX is never retried', { code: 'QUERY_TOO_COMPLEX', status: 400, notSent: false }, { attempt: 1, mutation: false }, false],
];
for (const [name, failure, ctx, expected] of cases) {
  test(`shouldRetry: ${name}`, (t) => {
    t.is(shouldRetry(failure, { ...ctx, retries: 2 }), expected);
  });
}

test('backoff doubles per attempt, between half and all of the step', (t) => {
  t.is(backoffMs(1, 100, 10_000, () => 0), 50);
  t.is(backoffMs(1, 100, 10_000, () => 1), 100);
  t.is(backoffMs(3, 100, 10_000, () => 1), 400);
});

test('backoff never exceeds the cap', (t) => {
  t.is(backoffMs(30, 100, 1_000, () => 1), 1_000);
});

test('isNotSent recognises a refused connection inside fetch errors', (t) => {
  const refusedErr = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
  t.true(isNotSent(refusedErr));
  const aggregate = Object.assign(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })], ''), { code: 'ECONNREFUSED' });
  t.true(isNotSent(new TypeError('fetch failed', { cause: aggregate })));
});

test('isNotSent is false for a reset or an unknown error', (t) => {
  t.false(isNotSent(new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) })));
  t.false(isNotSent(new Error('no code at all')));
});

test('the wait after RATE_LIMITED is at least what the gateway asked for', (t) => {
  t.true(waitMs({ code: 'RATE_LIMITED', status: 429, notSent: false, retryAfterMs: 3000 }, 1) >= 3000);
  t.true(waitMs(unavailable, 1) <= 200);
});
