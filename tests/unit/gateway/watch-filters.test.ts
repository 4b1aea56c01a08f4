/** Which live events a subscription's filter lets through (src/gateway/queries/watches.ts). */
import test from 'ava';
import type { LiveMessage, LiveOperation, LiveVolume } from '../../../src/bus/index.js';
import { messageEventMatches, operationEventMatches, volumeEventMatches } from '../../../src/gateway/queries/watches.js';

const volumeEvent = (volume: { status: string; name: string; availabilityZone: string }) => ({ type: 'UPDATED', volume }) as unknown as LiveVolume;
const operationEvent = (operation: { status: string; kind: string }) => ({ operation }) as unknown as LiveOperation;
const messageEvent = (message: { resourceType: string; resourceId: string }) => ({ message }) as unknown as LiveMessage;

test('a volume event matches when every given condition holds; absent and null conditions match anything', (t) => {
  const ev = volumeEvent({ status: 'available', name: 'db', availabilityZone: 'nova' });
  t.true(volumeEventMatches(undefined, ev));
  t.true(volumeEventMatches({ status: ['creating', 'available'], name: 'db', availabilityZone: 'nova' }, ev));
  t.true(volumeEventMatches({ status: [], name: null, availabilityZone: null }, ev));
  t.false(volumeEventMatches({ status: ['error'] }, ev));
  t.false(volumeEventMatches({ name: 'web' }, ev));
  t.false(volumeEventMatches({ availabilityZone: 'other' }, ev));
});

test('a volume event matches a projectId filter only for a volume of that project', (t) => {
  const ev = { type: 'UPDATED', volume: { status: 'available', name: 'db', availabilityZone: 'nova', projectId: 'p1' } } as unknown as LiveVolume;
  t.true(volumeEventMatches({ projectId: 'p1' }, ev));
  t.true(volumeEventMatches({ projectId: null }, ev));
  t.false(volumeEventMatches({ projectId: 'p2' }, ev));
});

test('an operation event matches by status and kind; an unknown kind matches nothing', (t) => {
  const ev = operationEvent({ status: 'running', kind: 'create_volume' });
  t.true(operationEventMatches(null, ev));
  t.true(operationEventMatches({ status: ['pending', 'running'], kind: 'create_volume' }, ev));
  t.false(operationEventMatches({ status: ['succeeded'] }, ev));
  t.false(operationEventMatches({ kind: 'no_such_kind' }, ev));
});

test('a message event matches by the resource it is about', (t) => {
  const ev = messageEvent({ resourceType: 'volume', resourceId: 'v1' });
  t.true(messageEventMatches({ resourceType: 'volume' }, ev));
  t.true(messageEventMatches({ resourceType: 'volume', resourceId: 'v1' }, ev));
  t.false(messageEventMatches({ resourceType: 'snapshot' }, ev));
  t.false(messageEventMatches({ resourceId: 'v2' }, ev));
});
