/** The backup engine: content-addressed, deduplicated, incremental backups of volume images. */
export * from './engine.js';
export { dirRepositoryId, natsRepositoryId, repositoryId, REPOSITORY_ID_FILE } from './repository-id.js';
