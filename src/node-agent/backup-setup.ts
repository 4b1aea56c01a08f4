/**
 * Opens the agent's backup repository and engine from the configuration
 * (`FLINT_BACKUP_REPOSITORY`, `FLINT_BACKUP_CHUNK_MIB`), and reads (or makes) the
 * repository's identity (src/node-agent/backup/repository-id.ts), which the agent
 * advertises in its pool heartbeats. A repository that cannot be opened does not stop the
 * agent: volumes still work, and every backup command fails saying why.
 */
import type { Bus } from '../bus/index.js';
import type { FlintConfig, Logger } from '../config/index.js';
import type { ProcessGroup } from '../lifecycle/index.js';
import { createBackupEngine, openRepository, repositoryId, type BackupEngine } from './backup/index.js';

export interface AgentBackupEngine {
  engine: BackupEngine | null;
  engineProblem?: string;
  repository: string;
  /** The repository's identity; null when it could not be opened or its identity read (then no restore is placed here for it). */
  repositoryId: string | null;
  close(): Promise<void>;
}

/** @param processes owns the qemu-nbd servers the engine starts (the agent's group). */
export async function openBackupEngine(config: FlintConfig, bus: Bus, log: Logger, processes: ProcessGroup): Promise<AgentBackupEngine> {
  const spec = config.backupRepository;
  try {
    const repository = await openRepository(spec, { nats: bus.nc, dataDir: config.dataDir, replicas: config.natsReplicas });
    const engine = createBackupEngine(repository, { chunkSize: config.backupChunkMiB * 1024 * 1024, processes });
    let id: string | null = null;
    try {
      id = await repositoryId(repository, { nats: bus.nc });
    } catch (err) {
      log.error({ err, repository: spec }, 'backup repository identity could not be read or made; restores will not be placed on this host for its backups');
    }
    log.info({ repository: spec, repositoryId: id, chunkMiB: config.backupChunkMiB }, 'backup repository ready');
    return { engine, repository: spec, repositoryId: id, close: () => repository.close() };
  } catch (err) {
    const problem = `${spec}: ${(err as Error).message}`;
    log.error({ err, repository: spec }, 'backup repository could not be opened; backups on this host will fail until it is fixed');
    return { engine: null, engineProblem: problem, repository: spec, repositoryId: null, close: async () => undefined };
  }
}
