/**
 * The event recorder: a replica of the shared durable consumer on `flint.evt.>`. It
 * looks each event's kind up in the outcome registry (registry.ts) and applies it: guarded
 * transitions (a duplicate or late event matches no row and changes nothing), the operation
 * ended, a user message on failure, the change announced on the live subjects.
 * An event counts only from a sender the database agrees with (senders.ts): the
 * sender is the one in the subject, which NATS enforces; anything else is logged and dropped.
 */
import { decodeEnvelope, decodePayload, RECORDER_DURABLE, runConsumer, senderOf, STREAM_EVT, subjects, type Bus, type ConsumerRunner } from '../../bus/index.js';
import type { Logger } from '../../config/logger.js';
import type { Db } from '../../db/index.js';
import type { BackupLive } from '../live/backup.js';
import type { LiveHub } from '../live/hub.js';
import { OUTCOMES } from './registry.js';
import { SenderCheck } from './senders.js';
import { madeImageOf, removeStrayImage } from './stray-images.js';

export async function startRecorder(bus: Bus, db: Db, live: LiveHub, log: Logger, backupLive: BackupLive): Promise<ConsumerRunner> {
  const senders = new SenderCheck(db);
  return runConsumer(
    bus,
    {
      stream: STREAM_EVT,
      durable: RECORDER_DURABLE,
      filterSubject: subjects.evtAll,
      concurrency: 16,
      onError: (err, msg) => log.error({ err, subject: msg.subject }, 'could not record an event; will retry'),
      onResubscribe: (err) => log.warn({ err }, 'event subscription lost; subscribing again'),
    },
    async (msg) => {
      const env = decodeEnvelope(msg.data);
      const sender = senderOf(msg.subject);
      const refused = await senders.refusal(sender, env);
      if (refused) {
        log.warn({ subject: msg.subject, kind: env.kind }, `event ignored: ${refused}`);
        // An image made on a host where the volume does not live is deleted there (stray-images.ts).
        const made = sender?.role === 'agent' ? madeImageOf(env.kind, env.payload, sender.host) : undefined;
        if (made) await removeStrayImage({ db, bus, live, log }, made);
        return 'drop';
      }
      const handler = OUTCOMES.get(env.kind);
      if (!handler) {
        log.warn({ kind: env.kind, subject: msg.subject }, 'event of an unknown kind; skipped');
        return 'ack';
      }
      await handler.apply({ db, bus, live, backupLive, log: env.requestId ? log.child({ requestId: env.requestId }) : log }, decodePayload(env, handler.payload));
      return 'ack';
    },
  );
}
