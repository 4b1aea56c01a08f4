/**
 * Opens the agent's backup repository and engine from the configuration
 * (`FLINT_BACKUP_REPOSITORY`, `FLINT_BACKUP_CHUNK_MIB`). A repository that cannot be opened
 * does not stop the agent: volumes still work, and every backup command fails saying why.
 */
import type { Bus } from '../bus/index.js';
import type { FlintConfig, Logger } from '../config/index.js';
import { createBackupEngine, openRepository, type BackupEngine } from './backup/index.js';

export interface AgentBackupEngine {
  engine: BackupEngine | null;
  engineProblem?: string;
  repository: string;
  close(): Promise<void>;
}

export async function openBackupEngine(config: FlintConfig, bus: Bus, log: Logger): Promise<AgentBackupEngine> {
  const spec = config.backupRepository;
  try {
    const repository = await openRepository(spec, { nats: bus.nc, dataDir: config.dataDir });
    const engine = createBackupEngine(repository, { chunkSize: config.backupChunkMiB * 1024 * 1024 });
    log.info({ repository: spec, chunkMiB: config.backupChunkMiB }, 'backup repository ready');
    return { engine, repository: spec, close: () => repository.close() };
  } catch (err) {
    const problem = `${spec}: ${(err as Error).message}`;
    log.error({ err, repository: spec }, 'backup repository could not be opened; backups on this host will fail until it is fixed');
    return { engine: null, engineProblem: problem, repository: spec, close: async () => undefined };
  }
}
