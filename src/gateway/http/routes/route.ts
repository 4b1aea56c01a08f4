/** A plain HTTP route of the gateway, beside `/graphql` (health, IDE, dashboard, metrics). */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Route {
  /** Whether this route answers the request; checked in order before GraphQL. */
  match(req: IncomingMessage, url: URL): boolean;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | void;
}
