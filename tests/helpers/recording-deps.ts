/**
 * Gateway deps over a real database with a recording publisher instead of NATS, for
 * integration tests of the mutation kernel and the mutations declared on it.
 */
import type { Bus } from '../../src/bus/index.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/config/index.js';
import { findVolume, type Db } from '../../src/db/index.js';
import type { GatewayDeps, LivePublisher } from '../../src/gateway/deps.js';
import { UNLIMITED_QUOTAS } from './quota-env.js';

/** What a mutation announced and published, in order, and whether each saw its rows committed. */
export interface Recorded {
  live: Array<{ what: string; id: string; committed?: boolean }>;
  published: Array<{ subject: string; msgId: string }>;
  /** Resolves once every announced volume's `committed` is known. */
  settled(): Promise<unknown>;
}

/** Gateway deps over a real database, with a publisher that records (or fails, while `failPublish` is set). */
export function recordingDeps(db: Db, opts: { failPublish?: boolean } = {}): { deps: GatewayDeps; rec: Recorded; setFail(v: boolean): void } {
  const pending: Promise<unknown>[] = [];
  const rec: Recorded = { live: [], published: [], settled: () => Promise.all(pending) };
  let fail = !!opts.failPublish;
  const committed = (id: string) => findVolume(db.fork(), id).then((v) => v !== null);
  const live: LivePublisher = {
    publish: (_type, v) => {
      const entry: Recorded['live'][number] = { what: 'volume', id: v.id };
      rec.live.push(entry);
      pending.push(committed(v.id).then((c) => (entry.committed = c)));
    },
    publishSnapshot: (_type, s) => void rec.live.push({ what: 'snapshot', id: s.id }),
    publishMove: (v, snapshots) => void rec.live.push({ what: 'moved volume', id: v.id }, ...snapshots.map((s) => ({ what: 'moved snapshot', id: s.id }))),
    publishOperation: (o) => void rec.live.push({ what: 'operation', id: o.id }),
    publishAttachment: (_type, a) => void rec.live.push({ what: 'attachment', id: a.id }),
    publishMessage: (m) => void rec.live.push({ what: 'message', id: m.id }),
  };
  const bus = {
    js: {
      publish: async (subject: string, _data: Uint8Array, o: { msgID: string }) => {
        if (fail) throw new Error('NATS is down');
        rec.published.push({ subject, msgId: o.msgID });
        return { seq: rec.published.length };
      },
    },
  } as unknown as Bus;
  const config = loadConfig({ FLINT_QUOTA_DEFAULTS: UNLIMITED_QUOTAS });
  return {
    deps: { config, db, bus, live, log: createLogger('kernel-test', 'silent') },
    rec,
    setFail: (v) => (fail = v),
  };
}
