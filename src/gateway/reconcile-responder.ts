/**
 * Answers agents' start-up reconciliation requests (`flint.rpc.reconcile`, core NATS
 * request-reply) from the database: every volume the DB places on the asking host that is
 * not DELETED, with its pool, status and version. Every gateway subscribes in one queue
 * group, so exactly one of them answers each request.
 */
import type { Subscription } from '@nats-io/transport-node';
import {
  decodeEnvelope,
  decodePayload,
  encode,
  GATEWAY_QUEUE,
  RECONCILE_SUBJECT,
  reconcileRequest,
  RECOVERY_KIND,
  type Bus,
  type ReconcileReply,
} from '../bus/index.js';
import type { Logger } from '../config/logger.js';
import { busyBackupsOnHost, Volume, type Db } from '../db/index.js';
import type { SecretBox } from '../domain/secret-box.js';
import { attachmentsOnHost } from './attachment-reconcile.js';

export async function volumesOnHost(db: Db, host: string): Promise<ReconcileReply['volumes']> {
  const rows = await db.fork().find(
    Volume,
    { host, status: { $ne: 'deleted' } },
    { fields: ['id', 'pool', 'status', 'version'], orderBy: { id: 'asc' }, disableIdentityMap: true },
  );
  return rows.map((v) => ({ volumeId: v.id, pool: v.pool, status: v.status, version: v.version }));
}

/** Backups the DB has this host working on (CREATING, RESTORING, DELETING): a restarted agent reports those it lost. */
export async function backupsOnHost(db: Db, host: string): Promise<NonNullable<ReconcileReply['backups']>> {
  const rows = await busyBackupsOnHost(db.fork(), host);
  return rows.map((b) => ({ backupId: b.id, volumeId: b.volumeId, status: b.status, operationId: b.operationId, restoreVolumeId: b.restoreVolumeId }));
}

export function startReconcileResponder(bus: Bus, db: Db, log: Logger, secrets: SecretBox): { stop(): void } {
  const sub: Subscription = bus.nc.subscribe(RECONCILE_SUBJECT, {
    queue: GATEWAY_QUEUE,
    callback: (err, msg) => {
      if (err) return log.warn({ err }, 'reconcile subscription error');
      void (async () => {
        try {
          const req = decodePayload(decodeEnvelope(msg.data), reconcileRequest);
          const volumes = await volumesOnHost(db, req.host);
          const attachments = await attachmentsOnHost(db, req.host, secrets);
          const backups = await backupsOnHost(db, req.host);
          msg.respond(encode(RECOVERY_KIND.reconcileReply, { host: req.host, volumes, attachments, backups } satisfies ReconcileReply));
          log.info({ host: req.host, volumes: volumes.length, attachments: attachments.length }, 'answered an agent\'s reconciliation request');
        } catch (e) {
          // No answer: the agent times out, logs it and tries once more later.
          log.warn({ err: e }, 'could not answer a reconciliation request');
        }
      })();
    },
  });
  return { stop: () => sub.unsubscribe() };
}
