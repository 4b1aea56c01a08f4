/**
 * What an agent's start-up reconciliation learns about attachments: the exports the DB
 * says its host should have (ATTACHING, ATTACHED, ERROR_DETACHING with an export asked
 * for), with their CHAP secrets (sealed), so a restarted agent (or tgtd) re-creates them.
 */
import type { ReconcileAttachment } from '../../bus/index.js';
import { exportsOnHost, type Db } from '../../db/index.js';
import type { SecretBox } from '../../domain/secret-box.js';
import { chapForBus } from '../mutations/attachment-secrets.js';

/** The CHAP passwords in the reply are sealed, as in the export commands. */
export async function attachmentsOnHost(db: Db, host: string, secrets: SecretBox): Promise<ReconcileAttachment[]> {
  const rows = await exportsOnHost(db.fork(), host);
  return rows
    .filter((a) => a.pool !== null)
    .map((a) => ({ a, chap: chapForBus(secrets, a) }))
    .map(({ a, chap }) => ({
      attachmentId: a.id,
      volumeId: a.volumeId,
      pool: a.pool!,
      targetKind: a.targetKind,
      mode: a.mode,
      ...(a.connector?.initiator ? { initiator: a.connector.initiator } : {}),
      ...(chap ? { chap } : {}),
    }));
}
