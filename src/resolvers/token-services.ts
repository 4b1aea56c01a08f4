/**
 * What the API-token resolvers need from the gateway (src/gateway/mutations/token.ts), as
 * types only, in the manner of `services.ts`.
 */
import type { Page, Principal, Role, TokenView } from '../db/index.js';

export interface CreateApiTokenRequest {
  /** Project name; the project is created when new. */
  project: string;
  role: Role;
  name?: string | null;
  /** When it stops working; default never. */
  expiresAt?: Date | null;
}

export interface ListApiTokensRequest {
  /** Page size, checked by the resolver. */
  first: number;
  /** The last row of the previous page (a decoded cursor). */
  after?: { createdAt: Date; id: string } | undefined;
  filter?: { projectId?: string | null; project?: string | null; includeRevoked?: boolean | null } | null;
}

export interface TokenServiceApi {
  /** Admins: a new token; the secret is in the result once and never again. */
  create(p: Principal | null, input: CreateApiTokenRequest): Promise<{ token: string; apiToken: TokenView }>;
  /** Admins: tokens newest first. */
  list(p: Principal | null, input: ListApiTokensRequest): Promise<Page<TokenView>>;
  /** Admins: revokes a token (idempotent); every gateway refuses it and closes its WebSockets. */
  revoke(p: Principal | null, input: { id: string }): Promise<TokenView>;
}
