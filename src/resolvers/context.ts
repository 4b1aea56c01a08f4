/** What every resolver receives: who is asking, and the ports to the gateway that does the work. */
import type { Principal } from '../db/index.js';
import type { Loaders } from './loaders.js';
import type { Ports } from './ports/index.js';

export interface Context {
  principal: Principal | null;
  requestId: string;
  ports: Ports;
  /** Batched reads of nested fields, made for this operation (src/resolvers/loaders.ts). */
  loaders: Loaders;
  /**
   * `performance.now()` after which no resolver starts (the execution timeout,
   * src/gateway/limits/deadline.ts); absent for subscriptions and with the limits off.
   */
  deadline?: number;
}
