/** The GraphQL layer: types, resolvers and the schema built from them. */
export { buildFlintSchema, printFlintSchema } from './schema.js';
export type { Context } from './context.js';
export type * from './ports/index.js';
export { createLoaders, MAX_BATCH_KEYS, type Loaders, type MessageResource } from './loaders.js';
