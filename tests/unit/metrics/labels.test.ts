import test from 'ava';
import { KIND } from '../../../src/bus/index.js';
import {
  agentCommandOutcome,
  ANONYMOUS,
  BoundedLabel,
  errorCodeLabel,
  errorCodes,
  MAX_OPERATION_NAME_LENGTH,
  operationIdOf,
  operationLabel,
  operationTypeLabel,
  OTHER,
  placementOutcome,
  requestIdFrom,
} from '../../../src/metrics/labels.js';

test('an operation without a name is labelled anonymous', (t) => {
  const names = new BoundedLabel(10);
  t.is(operationLabel(undefined, names), ANONYMOUS);
  t.is(operationLabel(null, names), ANONYMOUS);
  t.is(operationLabel('', names), ANONYMOUS);
});

test('a named operation keeps its name', (t) => {
  t.is(operationLabel('CreateVolume', new BoundedLabel(10)), 'CreateVolume');
});

test('names beyond the budget count as other, names already seen keep their label', (t) => {
  const names = new BoundedLabel(2);
  t.is(operationLabel('A', names), 'A');
  t.is(operationLabel('B', names), 'B');
  t.is(operationLabel('C', names), OTHER);
  t.is(operationLabel('A', names), 'A');
});

test('a name that is not a GraphQL name, or too long, is other and takes no room', (t) => {
  const names = new BoundedLabel(1);
  t.is(operationLabel('drop table;', names), OTHER);
  t.is(operationLabel('x'.repeat(MAX_OPERATION_NAME_LENGTH + 1), names), OTHER);
  t.is(operationLabel('Fine', names), 'Fine');
});

test('operation types outside query, mutation, subscription are unknown', (t) => {
  t.is(operationTypeLabel('mutation'), 'mutation');
  t.is(operationTypeLabel(undefined), 'unknown');
  t.is(operationTypeLabel('fragment'), 'unknown');
});

test('error codes outside the public list are OTHER', (t) => {
  t.is(errorCodeLabel('BAD_USER_INPUT'), 'BAD_USER_INPUT');
  t.is(errorCodeLabel('GRAPHQL_PARSE_FAILED'), 'OTHER');
  t.is(errorCodeLabel(undefined), 'OTHER');
  t.deepEqual(errorCodes([{ extensions: { code: 'NOT_FOUND' } }, {}]), ['NOT_FOUND', 'OTHER']);
  t.deepEqual(errorCodes(undefined), []);
});

test('a sane x-request-id is kept', (t) => {
  t.is(requestIdFrom('test-1234.abc:9_z', () => 'new'), 'test-1234.abc:9_z');
  t.is(requestIdFrom(['first', 'second'], () => 'new'), 'first');
});

test('a missing, odd or oversized x-request-id is replaced by a new one', (t) => {
  const make = () => 'new';
  t.is(requestIdFrom(undefined, make), 'new');
  t.is(requestIdFrom('', make), 'new');
  t.is(requestIdFrom('has space', make), 'new');
  t.is(requestIdFrom('line\nbreak', make), 'new');
  t.is(requestIdFrom('x'.repeat(129), make), 'new');
  t.is(requestIdFrom('-leading-dash', make), 'new');
});

test('a Flint token sent as x-request-id is not used (it would be logged)', (t) => {
  t.is(requestIdFrom('flint_abcDEF123', () => 'new'), 'new');
});

test('the operation id of a command payload is found when it is a string', (t) => {
  t.is(operationIdOf({ operationId: 'op-1' }), 'op-1');
  t.is(operationIdOf({ operationId: 7 }), undefined);
  t.is(operationIdOf(null), undefined);
  t.is(operationIdOf('x'), undefined);
});

test('placement outcome: waiting, placed, or no valid backend', (t) => {
  t.is(placementOutcome({ retryAfterMs: 1000 }, []), 'waiting');
  t.is(placementOutcome('done', [{ kind: KIND.volumeScheduled, payload: {} }, { kind: KIND.agentCreate, payload: {} }]), 'placed');
  t.is(placementOutcome('done', [{ kind: KIND.volumeOutcome, payload: { outcome: 'create.failed' } }]), 'no_valid_backend');
});

test('agent command outcome follows the message it published', (t) => {
  t.is(agentCommandOutcome([{ kind: KIND.volumeOutcome, payload: { outcome: 'create.succeeded' } }]), 'succeeded');
  t.is(agentCommandOutcome([{ kind: KIND.volumeOutcome, payload: { outcome: 'extend.failed' } }]), 'failed');
  t.is(agentCommandOutcome([{ kind: KIND.scheduleCreate, payload: {} }]), 'rescheduled');
  t.is(agentCommandOutcome([]), 'error');
});
