/**
 * The outcome messages of the agent's volume and snapshot commands, built without I/O:
 * the event payload, its subject and its msgId.
 */
import { KIND, subjects, token, type AgentCreateSnapshot, type AgentDeleteSnapshot, type SnapshotOutcomeEvent, type VolumeOutcomeEvent } from '../bus/index.js';
import type { RecordedMessage } from './outcome-store.js';

/**
 * Volume outcomes go to the volume's subject; msgId `<operationId>:<outcome>:<attempt>:<host>`.
 * The host is part of it: a create that ran on two hosts (a command delivered twice) is two
 * facts, and JetStream's duplicate window must not drop the second, which tells the gateway
 * of an image it then has removed (src/gateway/outcomes/stray-images.ts).
 */
export function volumeOutcome(
  host: string,
  operationId: string,
  outcome: VolumeOutcomeEvent['outcome'],
  attempt: number,
  rest: Omit<VolumeOutcomeEvent, 'operationId' | 'outcome'>,
): RecordedMessage {
  const payload: VolumeOutcomeEvent = { operationId, outcome, ...rest };
  return {
    subject: subjects.agentEvent(host, 'volume', rest.volumeId),
    kind: KIND.volumeOutcome,
    payload,
    msgId: `${operationId}:${outcome}:${attempt}:${token(host)}`,
  };
}

/** Snapshot outcomes go to the snapshot's subject; msgId `<operationId>:<outcome>` (snapshot commands have no attempts). */
export function snapshotOutcome(
  host: string,
  p: AgentCreateSnapshot | AgentDeleteSnapshot,
  outcome: SnapshotOutcomeEvent['outcome'],
  error?: SnapshotOutcomeEvent['error'],
): RecordedMessage {
  const payload: SnapshotOutcomeEvent = {
    operationId: p.operationId,
    snapshotId: p.snapshotId,
    volumeId: p.volumeId,
    outcome,
    ...(error ? { error } : {}),
  };
  return { subject: subjects.agentEvent(host, 'snapshot', p.snapshotId), kind: KIND.snapshotOutcome, payload, msgId: `${p.operationId}:${outcome}` };
}
