/** Which live events a subscription's filter lets through (src/gateway/queries/watches.ts). */
import test from 'ava';
import type { LiveAttachment, LiveBackup, LiveMessage, LiveOperation, LiveVolume } from '../../../src/bus/index.js';
import { attachmentEventMatches, backupEventMatches, messageEventMatches, operationEventMatches, volumeEventMatches } from '../../../src/gateway/queries/watches.js';

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

test('a backup event matches by status, volume, name and project; absent and null conditions match anything', (t) => {
  const ev = { type: 'UPDATED', backup: { status: 'available', volumeId: 'v1', name: 'nightly', projectId: 'p1' } } as unknown as LiveBackup;
  t.true(backupEventMatches(undefined, ev));
  t.true(backupEventMatches({ status: ['creating', 'available'], volumeId: 'v1', name: 'nightly', projectId: 'p1' }, ev));
  t.true(backupEventMatches({ status: [], volumeId: null, name: null, projectId: null }, ev));
  t.false(backupEventMatches({ status: ['deleted'] }, ev));
  t.false(backupEventMatches({ volumeId: 'v2' }, ev));
  t.false(backupEventMatches({ name: 'weekly' }, ev));
  t.false(backupEventMatches({ projectId: 'p2' }, ev));
});

test('an attachment event matches by status, volume, consumer and project', (t) => {
  const ev = { type: 'DELETED', attachment: { status: 'detached', volumeId: 'v1', instanceId: 'i1', projectId: 'p1' } } as unknown as LiveAttachment;
  t.true(attachmentEventMatches(null, ev));
  t.true(attachmentEventMatches({ status: ['detached'], volumeId: 'v1', instanceId: 'i1', projectId: 'p1' }, ev));
  t.false(attachmentEventMatches({ status: ['attached'] }, ev));
  t.false(attachmentEventMatches({ volumeId: 'v2' }, ev));
  t.false(attachmentEventMatches({ instanceId: 'i2' }, ev));
  t.false(attachmentEventMatches({ projectId: 'p2' }, ev));
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
