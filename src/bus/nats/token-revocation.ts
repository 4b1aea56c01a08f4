/**
 * "This API token was revoked", from whoever revoked it (a gateway's `revokeApiToken`,
 * `flint token revoke`) to every gateway, on core NATS (`subjects.tokenRevoked`): each
 * gateway drops the token from its cache and closes the WebSockets it authenticated.
 * Core NATS, not JetStream: a gateway that misses it still finds the revocation in the
 * database (its periodic check of open sockets, the cache's short TTL).
 */
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { encode, inboxPrefix, subjects, TOKEN_REVOKED_KIND, type TokenRevoked } from '../contract/index.js';

/** Publishes the revocation and waits until the server has it (a flush). */
export async function publishTokenRevoked(nc: Pick<NatsConnection, 'publish' | 'flush'>, payload: TokenRevoked): Promise<void> {
  nc.publish(subjects.tokenRevoked, encode(TOKEN_REVOKED_KIND, payload));
  await nc.flush();
}

/**
 * For a process without a bus of its own (`flint token revoke`): connects to `url`
 * (comma-separated servers) as a gateway (only gateways may publish `flint.gw.>`: `auth`
 * holds the gateways' credentials), publishes, and closes. Throws when NATS cannot be
 * reached within `timeoutMs`.
 */
export async function broadcastTokenRevoked(
  url: string,
  payload: TokenRevoked,
  name: string,
  timeoutMs = 3000,
  auth: Pick<ConnectionOptions, 'authenticator' | 'tls'> = {},
): Promise<void> {
  const nc = await connect({ servers: url.split(','), name, timeout: timeoutMs, maxReconnectAttempts: 0, inboxPrefix: inboxPrefix('gateway'), ...auth });
  try {
    await publishTokenRevoked(nc, payload);
  } finally {
    await nc.close();
  }
}
