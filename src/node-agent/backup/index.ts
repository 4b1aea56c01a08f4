/** The backup engine: content-addressed, deduplicated, incremental backups of volume images. */
export * from './engine.js';
