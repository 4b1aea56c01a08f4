/**
 * The gateway role put together: the live fan-out, the mutations, the token security and
 * API limits, the HTTP face (http/server.ts), and the background work every gateway replica
 * runs: the event recorder (outcomes/), the outbox, deadline and backup sweepers (sweepers/)
 * and the agents' reconcile responder.
 */
import { QuotaMutations } from './mutations/quota.js';
import { TransferMutations } from './mutations/transfer.js';
import { startTransferExpiry } from './sweepers/transfer-expiry.js';
import { startChangeRetention } from './sweepers/change-retention.js';
import { PoolView, type Bus } from '../bus/index.js';
import type { FlintConfig } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { loadSecretBox } from '../config/secret-key.js';
import { capacity, type Db } from '../db/index.js';
import { poolSourceFrom, setPoolSource } from '../metrics/index.js';
import { buildFlintSchema, type Ports } from '../resolvers/index.js';
import { createApiLimits } from './limits/index.js';
import { serveHttp } from './http/server.js';
import { startTokenSecurity } from './http/token-security.js';
import { BackupLive } from './live/backup.js';
import { ClusterFeed } from './live/cluster-feed.js';
import { LiveHub } from './live/hub.js';
import { startLiveCatchUp } from './live/catch-up.js';
import { AdminMutations } from './mutations/admin.js';
import { sealLegacyChapSecrets } from './mutations/attachment-secrets.js';
import { AttachmentMutations } from './mutations/attachment.js';
import { BackupMutations } from './mutations/backup.js';
import { ManageMutations } from './mutations/manage.js';
import { SnapshotMutations } from './mutations/snapshot.js';
import { MigrationMutations } from './mutations/volume-migration.js';
import { VolumeTypeMutations } from './mutations/volume-type.js';
import { VolumeMutations } from './mutations/volume.js';
import { ClusterQueries } from './queries/cluster.js';
import { Reads } from './queries/reads.js';
import { Watches } from './queries/watches.js';
import { startReconcileResponder } from './outcomes/reconcile-responder.js';
import { startRecorder } from './outcomes/recorder.js';
import { startBackupRecovery } from './sweepers/backup-recovery.js';
import { startDeadlineExtender } from './sweepers/deadline-extender.js';
import { stampOperationDeadlines, startDeadlineSweeper } from './sweepers/deadlines.js';
import { startOutboxSweeper } from './sweepers/outbox.js';
import { startResendSweeper } from './sweepers/resend.js';
import { startBusWatch } from './sweepers/bus-watch.js';
import { ProgressBoard } from './live/progress-board.js';
import { startQueuedDeleteSweeper } from './sweepers/queued-deletes.js';

export interface RunningGateway {
  /** `http://host:port/graphql` */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startGateway(config: FlintConfig, bus: Bus, db: Db, log: Logger): Promise<RunningGateway> {
  // Missing or bad key: a ConfigError before anything starts (src/config/secret-key.ts).
  const secrets = loadSecretBox(config);
  await sealLegacyChapSecrets(db, secrets, log);
  const schema = await buildFlintSchema();
  const live = new LiveHub(bus, db);
  const backupLive = new BackupLive(bus, db);
  // Changes whose notice never came (their gateway died after the commit) or could not be read reach subscribers from the change log (src/gateway/live/catch-up.ts).
  const catchUp = startLiveCatchUp(db, [live.catchUp, backupLive.catchUp], (err) => log.warn({ err }, 'live catch-up failed; will try again'));
  const unreadNotice = (what: string) => (err: unknown) => {
    log.warn({ err }, `ignored an unreadable ${what}; the change log will have it`);
    catchUp.hurry();
  };
  // Every operation created with a command gets its deadline (src/gateway/sweepers/deadlines.ts).
  stampOperationDeadlines(db, config.operationTimeoutSeconds);
  live.start(unreadNotice('live event'));
  const pools = await PoolView.start(bus.pools, (err) => log.warn({ err }, 'ignored an unreadable pool heartbeat'));
  const volumes = new VolumeMutations({ config, db, bus, live, log }, secrets);
  const snapshots = new SnapshotMutations({ config, db, bus, live, log });
  const admin = new AdminMutations({ config, db, bus, live, log });
  const migration = new MigrationMutations({ config, db, bus, live, log, pools });
  // The live view of pools and services: dashboards, and which agent exports an attachment of a shared pool.
  const feed = await ClusterFeed.start({
    bus,
    db,
    pools,
    heartbeatSeconds: config.heartbeatSeconds,
    onError: (err) => log.warn({ err }, 'dashboard feed error'),
  });
  const attachments = new AttachmentMutations({ config, db, bus, live, log, pools, services: () => feed.servicesNow() }, secrets);
  backupLive.start(unreadNotice('backup event'));
  const backups = new BackupMutations({ config, db, bus, live, log, backupLive, volumes, pools });
  const manage = new ManageMutations({ config, db, bus, live, log, pools, heartbeatSeconds: config.heartbeatSeconds });
  // Tokens: the cache, revocation across gateways, sockets closed at revocation or expiry (src/gateway/http/token-security.ts).
  const tokens = startTokenSecurity(bus, db, log);
  // Depth, cost, timeout, rates and WebSocket limits (src/gateway/limits/, FLINT_API_*).
  const limits = createApiLimits(config.apiLimits, tokens.auth);
  limits.prepareSchema(schema);
  const stopPoolGauge = setPoolSource(poolSourceFrom(() => pools.list(), () => capacity.allocations(db.fork())));
  // The latest progress of work in progress, fed by the deadline extender below (Operation.progress).
  const progressBoard = new ProgressBoard();
  const ports: Ports = {
    volumes,
    snapshots,
    attachments,
    admin,
    migration,
    backups,
    manage,
    tokens: tokens.mutations,
    volumeTypes: new VolumeTypeMutations({ config, db, bus, live, log }),
    quotas: new QuotaMutations({ config, db, bus, live, log }),
    transfers: new TransferMutations({ config, db, bus, live, log }),
    reads: new Reads(db, progressBoard),
    cluster: new ClusterQueries({ db, bus, pools, feed, heartbeatSeconds: config.heartbeatSeconds }),
    watches: new Watches({ db, live, volumes, snapshots, attachments, backups }),
  };
  const http = await serveHttp({ config, db, bus, log, schema, ports, limits, tokens });
  const port = http.port;
  const recorder = await startRecorder(bus, db, live, log, backupLive);
  const backupRecovery = startBackupRecovery(bus, db, live, backupLive, log);
  const outbox = startOutboxSweeper(bus, db, log);
  const resends = startResendSweeper(bus, db, log, config.operationTimeoutSeconds);
  // While JetStream does not answer, deadlines are held rather than run out (src/domain/bus-hold.ts).
  const busWatch = startBusWatch(bus, db, log, config.operationTimeoutSeconds);
  const deadlines = startDeadlineSweeper(db, live, log, config.operationTimeoutSeconds, bus, () => busWatch.watch.check());
  const transferExpiry = startTransferExpiry(db, live, log, config.transferExpirySeconds);
  const queuedDeletes = startQueuedDeleteSweeper({ db, bus, live, log });
  const changeRetention = startChangeRetention(db, log, config.changeRetentionSeconds);
  // Backup and migration progress push their operations' deadlines (src/gateway/sweepers/deadline-extender.ts).
  const extender = startDeadlineExtender(db, bus, backupLive, log, config.operationTimeoutSeconds, progressBoard);
  const reconcile = startReconcileResponder(bus, db, log, secrets);
  const url = `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${port}/graphql`;
  log.info({ url }, 'gateway ready');

  return {
    url,
    port,
    stop: async () => {
      outbox.stop();
      resends.stop();
      await tokens.stop();
      deadlines.stop();
      busWatch.stop();
      transferExpiry.stop();
      changeRetention.stop();
      queuedDeletes.stop();
      extender.stop();
      backupRecovery.stop();
      reconcile.stop();
      catchUp.stop();
      await recorder.stop();
      await http.stop();
      live.stop();
      backupLive.stop();
      pools.stop();
      stopPoolGauge();
      feed.stop();
    },
  };
}
