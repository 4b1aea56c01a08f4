/**
 * The CHAP secret of an attachment as the gateway handles it: sealed with the installation's
 * key (src/domain/secret-box.ts, the attachment id as associated data) before it is stored
 * or put in an agent command, opened only to show `connectionInfo` to those allowed.
 *
 * Rows from before secrets were sealed hold clear text (no `v1:` prefix): a gateway seals
 * them at start (`sealLegacyChapSecrets`), and until then they are read and sent sealed all
 * the same (`chapForBus`, `revealChapSecret`).
 */
import type { EntityManager } from '@mikro-orm/knex';
import type { Logger } from '../../config/index.js';
import { Attachment, type Db } from '../../db/index.js';
import { isSealed, SEALED_PREFIX, type SecretBox } from '../../domain/secret-box.js';

/** The stored form of a new attachment's CHAP secret. */
export function sealChapSecret(box: SecretBox, attachmentId: string, password: string): string {
  return box.seal(password, attachmentId);
}

/** The CHAP secret in clear, from its stored form (sealed, or clear text from before). */
export function revealChapSecret(box: SecretBox, attachmentId: string, stored: string): string {
  return isSealed(stored) ? box.open(stored, attachmentId) : stored;
}

/** The CHAP credentials as an agent command carries them: the password always sealed. */
export function chapForBus(box: SecretBox, a: Pick<Attachment, 'id' | 'chapUsername' | 'chapSecret'>): { username: string; password: string } | undefined {
  if (!a.chapUsername || !a.chapSecret) return undefined;
  return { username: a.chapUsername, password: isSealed(a.chapSecret) ? a.chapSecret : box.seal(a.chapSecret, a.id) };
}

/**
 * Seals every CHAP secret still stored in clear text; each row is changed only if it still
 * holds the value read (another gateway doing the same at once wins, nothing is sealed twice).
 * Returns how many rows it sealed.
 */
export async function sealLegacyChapSecrets(db: Db, box: SecretBox, log: Pick<Logger, 'info'>): Promise<number> {
  const em: EntityManager = db.fork();
  const rows = await em.find(
    Attachment,
    { $and: [{ chapSecret: { $ne: null } }, { $not: { chapSecret: { $like: `${SEALED_PREFIX}%` } } }] },
    { fields: ['id', 'chapSecret'], disableIdentityMap: true },
  );
  let sealed = 0;
  for (const a of rows) {
    const clear = a.chapSecret!;
    sealed += await em.nativeUpdate(Attachment, { id: a.id, chapSecret: clear }, { chapSecret: box.seal(clear, a.id) });
  }
  if (sealed) log.info({ sealed }, 'sealed CHAP secrets stored in clear text by an earlier version');
  return sealed;
}
