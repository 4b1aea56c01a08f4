/**
 * Who a client is, by address, for the per-address limits. Pure.
 *
 * - Behind reverse proxies named in FLINT_API_TRUSTED_PROXIES, the client is the
 *   right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries left
 *   of it are whatever the client wrote). Anyone else's `X-Forwarded-For` is ignored.
 * - IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is its IPv4 address.
 * - An IPv6 client is its /64: one host usually holds a whole /64, and per-address limits
 *   by full address would give it 2^64 of them.
 */
import { isIP } from 'node:net';

function normalise(address: string): string {
  const a = address.trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return mapped ? mapped[1]! : a.toLowerCase();
}

/** The client's address: the TCP peer, or what a trusted proxy says it forwarded for. */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trustedProxies: ReadonlySet<string>): string {
  const direct = normalise(peer ?? '');
  if (!forwardedFor || trustedProxies.size === 0 || !trustedProxies.has(direct)) return direct || 'unknown';
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map(normalise).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) break;
    if (!trustedProxies.has(hop)) return hop;
  }
  return direct;
}

/** The first 64 bits of an IPv6 address as `a:b:c:d::/64`; undefined when it is not one. */
function ipv6Prefix64(address: string): string | undefined {
  // An embedded IPv4 address is the last 32 bits: outside the prefix.
  const halves = address.replace(/\d+\.\d+\.\d+\.\d+$/, '0:0').split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - left.length - right.length;
  // `::` stands for at least one group of zeros.
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The key the per-address limits count by: the IPv4 address, or the IPv6 /64. */
export function addressKey(address: string): string {
  const a = normalise(address);
  if (isIP(a) !== 6) return a;
  return ipv6Prefix64(a) ?? a;
}
