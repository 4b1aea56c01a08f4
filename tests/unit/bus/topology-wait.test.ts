/**
 * A role that starts before a gateway made the NATS streams waits for them
 * (src/bus/nats/connection.ts). A busy server that lets a JetStream request time out must
 * not end that wait: under load a scheduler died of it ("flint: timeout") and a create was
 * never placed. A refused permission or a closed connection still ends it at once.
 */
import test from 'ava';
import { ClosedConnectionError, NoRespondersError, PermissionViolationError, TimeoutError } from '@nats-io/nats-core';
import { worthAskingAgain } from '../../../src/bus/nats/connection.js';
import { askAgain } from '../../../src/bus/nats/ask-again.js';

test('a request that timed out or found no responder is asked again', (t) => {
  t.true(worthAskingAgain(new TimeoutError()));
  t.true(worthAskingAgain(new NoRespondersError('$JS.API.STREAM.INFO.KV_flint-pools')));
});

test('a bucket that does not exist yet is asked again', (t) => {
  t.true(worthAskingAgain(Object.assign(new Error('stream not found'), { api_error: { err_code: 10059 } })));
});

test('a cluster whose nodes have not all met yet (no peers for the replicas asked) is asked again', (t) => {
  t.true(worthAskingAgain(Object.assign(new Error('no suitable peers for placement'), { api_error: { err_code: 10005 } })));
  t.true(worthAskingAgain(new Error('no suitable peers for placement')));
});

test('a refused permission and a closed connection end the wait', (t) => {
  t.false(worthAskingAgain(new PermissionViolationError('Permissions Violation for Publish to "$JS.API.STREAM.INFO.KV_flint-pools"', 'publish', '$JS.API.STREAM.INFO.KV_flint-pools')));
  t.false(worthAskingAgain(new ClosedConnectionError()));
});

test('askAgain retries a timeout and gives the answer; a refused permission is thrown at once; the last try\'s failure ends it', async (t) => {
  let calls = 0;
  t.is(
    await askAgain(async () => {
      if (++calls < 3) throw new TimeoutError();
      return 'id';
    }, { delayMs: 1 }),
    'id',
  );
  t.is(calls, 3);

  calls = 0;
  const refused = new PermissionViolationError('Permissions Violation for Publish to "$JS.API.STREAM.CREATE.KV_x"', 'publish', '$JS.API.STREAM.CREATE.KV_x');
  await t.throwsAsync(
    askAgain(async () => {
      calls++;
      throw refused;
    }, { delayMs: 1 }),
    { is: refused },
  );
  t.is(calls, 1);

  calls = 0;
  await t.throwsAsync(
    askAgain(async () => {
      calls++;
      throw new TimeoutError();
    }, { attempts: 3, delayMs: 1 }),
    { instanceOf: TimeoutError },
  );
  t.is(calls, 3);
});
