/**
 * The outcome messages of the agent's volume and snapshot commands, built without I/O:
 * the event payload, its subject and its msgId.
 */
import { KIND, subjects, type AgentCreateSnapshot, type AgentDeleteSnapshot, type SnapshotOutcomeEvent, type VolumeOutcomeEvent } from '../bus/index.js';
import type { RecordedMessage } from './outcome-store.js';

/** Volume outcomes go to the volume's subject; msgId `<operationId>:<outcome>:<attempt>`. */
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
    msgId: `${operationId}:${outcome}:${attempt}`,
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
