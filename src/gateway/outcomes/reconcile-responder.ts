/**
 * Answers agents' start-up reconciliation requests (`flint.rpc.reconcile.<host>`, core NATS
 * request-reply) from the database: every volume the DB places on the asking host that is
 * not DELETED, with its pool, status and version, the exports it should have (with their
 * sealed CHAP secrets) and the backups it works on. Every gateway subscribes in one queue
 * group, so exactly one of them answers each request.
 *
 * The host comes from the subject, which NATS lets only that host's agent publish on
 * (src/bus/nats/permissions.ts): an agent learns about itself and nothing else. A request whose
 * payload names another host, or whose reply inbox is not the asking agent's, is not answered.
 */
import type { Subscription } from '@nats-io/transport-node';
import {
  decodeEnvelope,
  decodePayload,
  encode,
  GATEWAY_QUEUE,
  inboxPrefix,
  reconcileHostOf,
  reconcileRequest,
  subjects,
  token,
  RECOVERY_KIND,
  type Bus,
  type ReconcileReply,
} from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import { busyBackupsOnHost, Volume, type Db } from '../../db/index.js';
import type { SecretBox } from '../../domain/secret-box.js';
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
  const sub: Subscription = bus.nc.subscribe(subjects.reconcileAll, {
    queue: GATEWAY_QUEUE,
    callback: (err, msg) => {
      if (err) return log.warn({ err }, 'reconcile subscription error');
      void (async () => {
        try {
          const req = decodePayload(decodeEnvelope(msg.data), reconcileRequest);
          const refusal = reconcileRefusal(msg.subject, msg.reply, req.host, bus.inboxPrefix);
          if (refusal) return log.warn({ subject: msg.subject, host: req.host }, `reconciliation request not answered: ${refusal}`);
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

/**
 * Why a reconciliation request must not be answered, or undefined when it may: the payload's
 * host must be the subject's (the one NATS vouches for), and the answer must go to that
 * agent's private inbox (or to this connection's own, when roles share a process), so a
 * gateway is never made to publish an answer on another subject. Pure.
 */
export function reconcileRefusal(subject: string, reply: string | undefined, host: string, ownInboxPrefix: string): string | undefined {
  const asking = reconcileHostOf(subject);
  if (!asking) return `"${subject}" is not a reconciliation subject`;
  if (token(host) !== asking) return `the request names host "${host}" but came on the subject of host "${asking}"`;
  if (!reply) return 'it has no reply subject';
  if (!reply.startsWith(`${inboxPrefix('agent', asking)}.`) && !reply.startsWith(`${ownInboxPrefix}.`)) return `the reply subject "${reply}" is not the inbox of agent "${asking}"`;
  return undefined;
}
