/**
 * Which agent exports an attachment. A volume on an agent's own host is exported there. A
 * volume on a backend host (a virtual host several agents serve: pools with a `backendHost`,
 * Cinder's active-active `cluster@backend`) is exported by one of its member agents, because an
 * export lives on a concrete host (its tgtd, its qemu-nbd): an UP member, chosen by rendezvous
 * hashing of the attachment id, so attachments spread over the members and a member going
 * DOWN moves only the new attachments that would have gone to it. Pure.
 */
import { createHash } from 'node:crypto';
import { isUp } from './liveness.js';

/** What the choice reads of an agent's service heartbeat. */
export interface MemberBeat {
  role: string;
  host: string;
  heartbeatAt: string;
  intervalSeconds: number;
  /** The backend hosts the agent serves. */
  backends?: readonly string[] | undefined;
}

export interface ExportHostChoice {
  /** The host that exports it: the volume's own host, or a member of its backend. */
  host: string;
  /** The backend's members (empty: the volume's host is an agent's own). */
  members: readonly string[];
  /** Whether `host` is UP (a volume's own host: not judged, true). */
  up: boolean;
}

/** The agents that serve backend host `backend`, in name order. */
export function membersOf(backend: string, beats: readonly MemberBeat[]): string[] {
  return [...new Set(beats.filter((b) => b.role === 'agent' && b.backends?.includes(backend)).map((b) => b.host))].sort();
}

/** Rendezvous (highest random weight) score of `member` for `key`. */
function score(key: string, member: string): string {
  return createHash('sha256').update(`${key}\u0000${member}`).digest('hex');
}

/**
 * The host that exports attachment `attachmentId` of a volume on `volumeHost`: `volumeHost`
 * itself when no agent names it as a backend; else the UP member with the highest rendezvous
 * score; when no member is UP, the member with the highest score all the same (`up: false`): the
 * command waits in its queue until it comes back, as an attachment of a volume on a DOWN host's
 * own pool does.
 */
export function chooseExportHost(volumeHost: string, attachmentId: string, beats: readonly MemberBeat[], now: number = Date.now()): ExportHostChoice {
  const members = membersOf(volumeHost, beats);
  if (members.length === 0) return { host: volumeHost, members, up: true };
  const up = members.filter((m) => beats.some((b) => b.role === 'agent' && b.host === m && isUp(b.heartbeatAt, b.intervalSeconds, now)));
  const best = (from: readonly string[]) => from.reduce((a, b) => (score(attachmentId, b) > score(attachmentId, a) ? b : a));
  return up.length > 0 ? { host: best(up), members, up: true } : { host: best(members), members, up: false };
}
