import test from 'ava';
import { dataOrThrow, FlintApiError, fromSocketError, parseHttpResult } from '../../../src/client/errors.js';

test('a GraphQL error body becomes a FlintApiError with the first error code', (t) => {
  const body = JSON.stringify({
    data: null,
    errors: [
      { message: 'sizeGiB must be from 1 to 65536.', extensions: { code: 'BAD_USER_INPUT' } },
      { message: 'second', extensions: { code: 'INTERNAL' } },
    ],
  });
  const result = parseHttpResult(200, body);
  const err = t.throws(() => dataOrThrow(result), { instanceOf: FlintApiError });
  t.is(err.code, 'BAD_USER_INPUT');
  t.is(err.errors.length, 2);
  t.is(err.status, 200);
  t.is(err.message, 'sizeGiB must be from 1 to 65536. (and 1 more error)');
});

test('an error without extensions.code reads as NETWORK', (t) => {
  const err = new FlintApiError([{ message: 'from some proxy' }]);
  t.is(err.code, 'NETWORK');
  t.is(err.name, 'FlintApiError');
});

test('data without errors is returned as it is', (t) => {
  t.deepEqual(dataOrThrow(parseHttpResult<{ viewer: { role: string } }>(200, '{"data":{"viewer":{"role":"ADMIN"}}}')), { viewer: { role: 'ADMIN' } });
});

test('a 401 body keeps its UNAUTHENTICATED code and status', (t) => {
  const result = parseHttpResult(401, '{"errors":[{"message":"unknown token","extensions":{"code":"UNAUTHENTICATED"}}]}');
  t.is(result.status, 401);
  t.is(result.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
});

test('a 503 page that is not GraphQL becomes SERVICE_UNAVAILABLE', (t) => {
  const result = parseHttpResult(503, '<html>upstream down</html>');
  t.is(result.errors?.[0]?.extensions?.code, 'SERVICE_UNAVAILABLE');
  t.regex(result.errors?.[0]?.message ?? '', /HTTP 503.*upstream down/);
});

test('an empty 502 becomes NETWORK', (t) => {
  const err = t.throws(() => dataOrThrow(parseHttpResult(502, '')), { instanceOf: FlintApiError });
  t.is(err.code, 'NETWORK');
  t.is(err.status, 502);
});

test('a response with neither data nor errors is an error, not undefined data', (t) => {
  const err = t.throws(() => dataOrThrow(parseHttpResult(200, '{"data":null}')), { instanceOf: FlintApiError });
  t.is(err.code, 'NETWORK');
});

test('graphql-ws error payloads keep their codes', (t) => {
  const err = fromSocketError([{ message: 'Volume x does not exist.', extensions: { code: 'NOT_FOUND' } }]);
  t.is(err.code, 'NOT_FOUND');
});

test('close code 4429 with a RATE_LIMITED reason reads as RATE_LIMITED, with the reason as message', (t) => {
  const err = fromSocketError({ code: 4429, reason: 'RATE_LIMITED: Too many WebSockets for this token (at most 64); close some.' });
  t.is(err.code, 'RATE_LIMITED');
  t.is(err.message, 'Too many WebSockets for this token (at most 64); close some.');
  t.is(fromSocketError({ code: 4429, reason: 'Too many initialisation requests' }).code, 'NETWORK');
});

test('close code 4403 reads as UNAUTHENTICATED', (t) => {
  const err = fromSocketError({ code: 4403, reason: 'Forbidden' });
  t.is(err.code, 'UNAUTHENTICATED');
  t.regex(err.message, /token/);
});

test('a 4403 close for a revoked or expired token says which', (t) => {
  t.regex(fromSocketError({ code: 4403, reason: 'Forbidden: the token was revoked' }).message, /token was revoked/);
  const expired = fromSocketError({ code: 4403, reason: 'Forbidden: the token expired' });
  t.is(expired.code, 'UNAUTHENTICATED');
  t.regex(expired.message, /token expired/);
});

test('close code 1013 (the gateway could not check the token) reads as SERVICE_UNAVAILABLE', (t) => {
  const err = fromSocketError({ code: 1013, reason: 'Service unavailable: the token cannot be checked now; retry' });
  t.is(err.code, 'SERVICE_UNAVAILABLE');
  t.regex(err.message, /not refused/);
});

test('other close events and socket errors read as NETWORK', (t) => {
  t.is(fromSocketError({ code: 1006, reason: '' }).code, 'NETWORK');
  const err = fromSocketError(new Error('connect ECONNREFUSED 127.0.0.1:1'));
  t.is(err.code, 'NETWORK');
  t.regex(err.message, /ECONNREFUSED/);
});
