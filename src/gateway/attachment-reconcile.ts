/**
 * What an agent's start-up reconciliation learns about attachments: the exports the DB
 * says its host should have (ATTACHING, ATTACHED, ERROR_DETACHING with an export asked
 * for), with their CHAP secrets, so a restarted agent (or tgtd) re-creates them.
 */
import type { ReconcileAttachment } from '../bus/index.js';
import { exportsOnHost, type Db } from '../db/index.js';

export async function attachmentsOnHost(db: Db, host: string): Promise<ReconcileAttachment[]> {
  const rows = await exportsOnHost(db.fork(), host);
  return rows
    .filter((a) => a.pool !== null)
    .map((a) => ({
      attachmentId: a.id,
      volumeId: a.volumeId,
      pool: a.pool!,
      targetKind: a.targetKind,
      mode: a.mode,
      ...(a.connector?.initiator ? { initiator: a.connector.initiator } : {}),
      ...(a.chapUsername && a.chapSecret ? { chap: { username: a.chapUsername, password: a.chapSecret } } : {}),
    }));
}
