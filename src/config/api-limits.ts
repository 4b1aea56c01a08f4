/**
 * The gateway's API limits (issue 11, "The trust boundary"): what one GraphQL operation,
 * one token, one address and one WebSocket may ask of a gateway. Parsed here and merged
 * into the one `FlintConfig` by `loadConfig` (src/config/config.ts); enforced by
 * src/gateway/limits/. Every default leaves room for the dashboard, the CLI and GraphiQL
 * (tests/unit/gateway/limits-defaults.test.ts computes their operations against them).
 */
import { z } from 'zod';

/** Whether the limits below apply. `false` is for benchmarks only. @default true */
export const DEFAULT_API_LIMITS = true;
/** Lexical tokens in one GraphQL document; bounds the parse and validation work of any request. @default 5_000 */
export const DEFAULT_API_MAX_TOKENS = 5_000;
/** Nested field levels of an operation (`{ volume { id } }` is 2); introspection is bounded by GraphQL's own rule. @default 10 */
export const DEFAULT_API_MAX_DEPTH = 10;
/** Aliased fields in one operation, fragments expanded. @default 30 */
export const DEFAULT_API_MAX_ALIASES = 30;
/** Fields in one operation, fragments expanded. @default 1_000 */
export const DEFAULT_API_MAX_FIELDS = 1_000;
/** Estimated objects an operation may fetch: lists count by their `first` (else 10), nested lists multiply. @default 10_000 */
export const DEFAULT_API_MAX_COST = 10_000;
/** A query or mutation running longer is cut off with QUERY_TOO_COMPLEX (above the 10 s agent RPCs some queries wait for). @default 15_000 */
export const DEFAULT_API_TIMEOUT_MS = 15_000;
/** Operations per second one token may run (HTTP requests and WebSocket subscribes together), refilled continuously. @default 50 */
export const DEFAULT_API_RATE_PER_SECOND = 50;
/** Operations one token may run at once after being idle (the bucket's size). @default 200 */
export const DEFAULT_API_RATE_BURST = 200;
/** Operations per second of callers without a token, per address (only introspection-free queries answer them at all). @default 5 */
export const DEFAULT_API_ANONYMOUS_RATE_PER_SECOND = 5;
/** Burst of callers without a token, per address. @default 20 */
export const DEFAULT_API_ANONYMOUS_BURST = 20;
/** Failed authentications one address may make per minute before its unknown tokens are refused (RATE_LIMITED). @default 10 */
export const DEFAULT_API_AUTH_FAILURES_PER_MINUTE = 10;
/** Open operations (subscriptions, and queries in flight) on one WebSocket. @default 100 */
export const DEFAULT_API_WS_MAX_SUBSCRIPTIONS = 100;
/** Open WebSockets per token. @default 64 */
export const DEFAULT_API_WS_MAX_CONNECTIONS_PER_TOKEN = 64;
/** Open WebSockets per client address (IPv6: per /64), authenticated or not. @default 256 */
export const DEFAULT_API_WS_MAX_CONNECTIONS_PER_ADDRESS = 256;
/** Largest WebSocket message the gateway reads; larger ones close the socket (1009). Not a knob: the HTTP body limit is the same. */
export const API_WS_MAX_PAYLOAD_BYTES = 1024 * 1024;

export interface ApiLimitsConfig {
  /** Whether every limit below applies (the WebSocket message size always does). @default true */
  readonly enabled: boolean;
  /** @default 5_000 */
  readonly maxTokens: number;
  /** @default 10 */
  readonly maxDepth: number;
  /** @default 30 */
  readonly maxAliases: number;
  /** @default 1_000 */
  readonly maxFields: number;
  /** @default 10_000 */
  readonly maxCost: number;
  /** @default 15_000 */
  readonly timeoutMs: number;
  /** @default 50 */
  readonly ratePerSecond: number;
  /** @default 200 */
  readonly rateBurst: number;
  /** @default 5 */
  readonly anonymousRatePerSecond: number;
  /** @default 20 */
  readonly anonymousBurst: number;
  /** @default 10 */
  readonly authFailuresPerMinute: number;
  /** @default 100 */
  readonly wsMaxSubscriptions: number;
  /** @default 64 */
  readonly wsMaxConnectionsPerToken: number;
  /** @default 256 */
  readonly wsMaxConnectionsPerAddress: number;
  /**
   * Peers (exact IP addresses) whose `X-Forwarded-For` names the client: a reverse proxy in
   * front of the gateways. Empty (the default): the TCP peer is the client.
   */
  readonly trustedProxies: readonly string[];
}

/** The environment variables of the limits, for `ENV` in config.ts (the README's table says the same). */
export const API_LIMITS_ENV = {
  FLINT_API_LIMITS: 'true|false: whether the API limits below apply (default true; false is for benchmarks only)',
  FLINT_API_MAX_TOKENS: `lexical tokens in one GraphQL document (default ${DEFAULT_API_MAX_TOKENS})`,
  FLINT_API_MAX_DEPTH: `nested field levels of one operation (default ${DEFAULT_API_MAX_DEPTH})`,
  FLINT_API_MAX_ALIASES: `aliased fields in one operation (default ${DEFAULT_API_MAX_ALIASES})`,
  FLINT_API_MAX_FIELDS: `fields in one operation, fragments expanded (default ${DEFAULT_API_MAX_FIELDS})`,
  FLINT_API_MAX_COST: `estimated objects one operation may fetch; a list counts as its first argument (10 when it has none), nested lists multiply (default ${DEFAULT_API_MAX_COST})`,
  FLINT_API_TIMEOUT_MS: `milliseconds a query or mutation may run before it is cut off with QUERY_TOO_COMPLEX (default ${DEFAULT_API_TIMEOUT_MS})`,
  FLINT_API_RATE_PER_SECOND: `operations per second per token, HTTP and WebSocket together (default ${DEFAULT_API_RATE_PER_SECOND})`,
  FLINT_API_RATE_BURST: `operations a token may run at once after being idle (default ${DEFAULT_API_RATE_BURST})`,
  FLINT_API_ANONYMOUS_RATE_PER_SECOND: `operations per second per client address without a token (default ${DEFAULT_API_ANONYMOUS_RATE_PER_SECOND})`,
  FLINT_API_ANONYMOUS_BURST: `burst per client address without a token (default ${DEFAULT_API_ANONYMOUS_BURST})`,
  FLINT_API_AUTH_FAILURES_PER_MINUTE: `failed authentications per client address and minute before its unknown tokens are refused with RATE_LIMITED (default ${DEFAULT_API_AUTH_FAILURES_PER_MINUTE})`,
  FLINT_API_WS_MAX_SUBSCRIPTIONS: `operations open at once on one WebSocket (default ${DEFAULT_API_WS_MAX_SUBSCRIPTIONS})`,
  FLINT_API_WS_MAX_CONNECTIONS_PER_TOKEN: `open WebSockets per token (default ${DEFAULT_API_WS_MAX_CONNECTIONS_PER_TOKEN})`,
  FLINT_API_WS_MAX_CONNECTIONS_PER_ADDRESS: `open WebSockets per client address, IPv6 per /64 (default ${DEFAULT_API_WS_MAX_CONNECTIONS_PER_ADDRESS})`,
  FLINT_API_TRUSTED_PROXIES: 'comma-separated IP addresses of reverse proxies whose X-Forwarded-For names the client (default none: the TCP peer is the client)',
} as const;

/** The same settings in the JSON config file (camelCase keys), merged into config.ts's file schema. */
export const apiLimitsFileFields = {
  apiLimits: z.boolean(),
  apiMaxTokens: z.number(),
  apiMaxDepth: z.number(),
  apiMaxAliases: z.number(),
  apiMaxFields: z.number(),
  apiMaxCost: z.number(),
  apiTimeoutMs: z.number(),
  apiRatePerSecond: z.number(),
  apiRateBurst: z.number(),
  apiAnonymousRatePerSecond: z.number(),
  apiAnonymousBurst: z.number(),
  apiAuthFailuresPerMinute: z.number(),
  apiWsMaxSubscriptions: z.number(),
  apiWsMaxConnectionsPerToken: z.number(),
  apiWsMaxConnectionsPerAddress: z.number(),
  apiTrustedProxies: z.string(),
};

type FileFields = { [K in keyof typeof apiLimitsFileFields]?: z.infer<(typeof apiLimitsFileFields)[K]> };

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+(:(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3})?$/;

/**
 * The limits from the environment and the config file (the environment wins); every
 * problem is added to `problems`, and the defaults stand in for bad values.
 */
export function parseApiLimits(env: Record<string, string | undefined>, file: FileFields, problems: string[]): ApiLimitsConfig {
  const given = (key: keyof typeof API_LIMITS_ENV): string | undefined => {
    const v = env[key];
    return v !== undefined && v !== '' ? v : undefined;
  };
  const int = (key: keyof typeof API_LIMITS_ENV, fromFile: number | undefined, def: number, min: number, max: number): number => {
    const v = given(key);
    const n = v !== undefined ? Number(v) : (fromFile ?? def);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: must be an integer from ${min} to ${max}, got ${JSON.stringify(v ?? fromFile)}`);
      return def;
    }
    return n;
  };
  const enabledRaw = given('FLINT_API_LIMITS');
  if (enabledRaw !== undefined && enabledRaw !== 'true' && enabledRaw !== 'false') problems.push(`FLINT_API_LIMITS: true or false, got "${enabledRaw}"`);
  const enabled = enabledRaw !== undefined ? enabledRaw !== 'false' : (file.apiLimits ?? DEFAULT_API_LIMITS);

  const proxiesRaw = given('FLINT_API_TRUSTED_PROXIES') ?? file.apiTrustedProxies ?? '';
  const trustedProxies = proxiesRaw.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of trustedProxies) {
    if (!IPV4.test(p) && !(p.includes(':') && IPV6.test(p))) problems.push(`FLINT_API_TRUSTED_PROXIES: "${p}" is not an IP address (list proxies by address, comma-separated)`);
  }

  const million = 1_000_000;
  return {
    enabled,
    maxTokens: int('FLINT_API_MAX_TOKENS', file.apiMaxTokens, DEFAULT_API_MAX_TOKENS, 100, million),
    maxDepth: int('FLINT_API_MAX_DEPTH', file.apiMaxDepth, DEFAULT_API_MAX_DEPTH, 2, 1_000),
    maxAliases: int('FLINT_API_MAX_ALIASES', file.apiMaxAliases, DEFAULT_API_MAX_ALIASES, 0, million),
    maxFields: int('FLINT_API_MAX_FIELDS', file.apiMaxFields, DEFAULT_API_MAX_FIELDS, 1, million),
    maxCost: int('FLINT_API_MAX_COST', file.apiMaxCost, DEFAULT_API_MAX_COST, 1, 1_000 * million),
    timeoutMs: int('FLINT_API_TIMEOUT_MS', file.apiTimeoutMs, DEFAULT_API_TIMEOUT_MS, 1, 3_600_000),
    ratePerSecond: int('FLINT_API_RATE_PER_SECOND', file.apiRatePerSecond, DEFAULT_API_RATE_PER_SECOND, 1, million),
    rateBurst: int('FLINT_API_RATE_BURST', file.apiRateBurst, DEFAULT_API_RATE_BURST, 1, million),
    anonymousRatePerSecond: int('FLINT_API_ANONYMOUS_RATE_PER_SECOND', file.apiAnonymousRatePerSecond, DEFAULT_API_ANONYMOUS_RATE_PER_SECOND, 1, million),
    anonymousBurst: int('FLINT_API_ANONYMOUS_BURST', file.apiAnonymousBurst, DEFAULT_API_ANONYMOUS_BURST, 1, million),
    authFailuresPerMinute: int('FLINT_API_AUTH_FAILURES_PER_MINUTE', file.apiAuthFailuresPerMinute, DEFAULT_API_AUTH_FAILURES_PER_MINUTE, 1, million),
    wsMaxSubscriptions: int('FLINT_API_WS_MAX_SUBSCRIPTIONS', file.apiWsMaxSubscriptions, DEFAULT_API_WS_MAX_SUBSCRIPTIONS, 1, million),
    wsMaxConnectionsPerToken: int('FLINT_API_WS_MAX_CONNECTIONS_PER_TOKEN', file.apiWsMaxConnectionsPerToken, DEFAULT_API_WS_MAX_CONNECTIONS_PER_TOKEN, 1, million),
    wsMaxConnectionsPerAddress: int('FLINT_API_WS_MAX_CONNECTIONS_PER_ADDRESS', file.apiWsMaxConnectionsPerAddress, DEFAULT_API_WS_MAX_CONNECTIONS_PER_ADDRESS, 1, million),
    trustedProxies,
  };
}
