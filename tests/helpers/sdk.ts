/**
 * The typed SDK (src/client/) as tests use it: one {@link FlintClient} per token and
 * gateway, closed with the cluster, and the error code of a `raw` answer.
 */
import type { GraphQLFormattedError } from 'graphql';
import { FlintClient } from '../../src/client/index.js';

/**
 * HTTP tries after the first. More than the SDK's default: tests that share one token
 * across many concurrent calls are not about the rate limits (tests/security/ checks
 * them), so a request refused with RATE_LIMITED (nothing ran) is tried again, as
 * `gql` in cluster.ts does. @default 5
 */
export const TEST_CLIENT_RETRIES = 5;

/** The clients of one gateway, one per token, made on first use. */
export class ClientPool {
  private readonly clients = new Map<string, FlintClient>();

  constructor(private readonly url: string) {}

  /** The client that sends `token` (none: an anonymous client). */
  as(token: string | undefined): FlintClient {
    const key = token ?? '';
    let c = this.clients.get(key);
    if (!c) {
      c = new FlintClient({ url: this.url, ...(token ? { token } : {}), retries: TEST_CLIENT_RETRIES });
      this.clients.set(key, c);
    }
    return c;
  }

  /** Closes every client's WebSocket. */
  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

/** `extensions.code` of the first error of a `raw` answer, if any. */
export function errorCode(r: { errors?: readonly GraphQLFormattedError[] | undefined }): string | undefined {
  const code = r.errors?.[0]?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}
