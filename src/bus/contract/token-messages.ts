/**
 * "This API token was revoked", from whoever revoked it (a gateway's `revokeApiToken`,
 * `flint token revoke`) to every gateway, on core NATS (`subjects.tokenRevoked`); sent by
 * src/bus/nats/token-revocation.ts.
 */
import { z } from 'zod';

export const tokenRevoked = z.object({
  /** Id of the token (never the secret or its hash). */
  tokenId: z.string().min(1).max(128),
  /** When it was revoked (ISO 8601), as the database has it. */
  revokedAt: z.string().min(1).max(64),
});
export type TokenRevoked = z.infer<typeof tokenRevoked>;
