/** What the API-token resolvers need from the gateway (src/gateway/mutations/token.ts implements it). */
import type { Page, Principal, Role, TokenView } from '../../db/index.js';
import type { ListRequest } from './reads.js';

export interface CreateApiTokenRequest {
  /** Project name; the project is created when new. */
  project: string;
  role: Role;
  name?: string | null;
  /** When it stops working; default never. */
  expiresAt?: Date | null;
}

export type ListApiTokensRequest = ListRequest<{ projectId?: string | null; project?: string | null; includeRevoked?: boolean | null } | null>;

export interface TokensPort {
  /** Admins: a new token; the secret is in the result once and never again. */
  create(p: Principal | null, input: CreateApiTokenRequest): Promise<{ token: string; apiToken: TokenView }>;
  /** Admins: tokens newest first. */
  list(p: Principal | null, input: ListApiTokensRequest): Promise<Page<TokenView>>;
  /** Admins: revokes a token (idempotent); every gateway refuses it and closes its WebSockets. */
  revoke(p: Principal | null, input: { id: string }): Promise<TokenView>;
}
