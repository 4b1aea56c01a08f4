/** `clientAddress` and `addressKey` of src/gateway/limits/client-address.ts. */
import test from 'ava';
import { addressKey, clientAddress } from '../../../src/gateway/limits/index.js';

const none = new Set<string>();
const proxy = new Set(['10.0.0.5', '10.0.0.6']);

test('without trusted proxies the TCP peer is the client, whatever X-Forwarded-For says', (t) => {
  t.is(clientAddress('203.0.113.7', '198.51.100.1', none), '203.0.113.7');
});

test('an IPv4-mapped IPv6 peer is its IPv4 address', (t) => {
  t.is(clientAddress('::ffff:203.0.113.7', undefined, none), '203.0.113.7');
});

test('behind a trusted proxy the client is the right-most address the proxies did not add', (t) => {
  t.is(clientAddress('10.0.0.5', '198.51.100.1, 203.0.113.9, 10.0.0.6', proxy), '203.0.113.9');
  t.is(clientAddress('10.0.0.5', ['198.51.100.1', '203.0.113.9'], proxy), '203.0.113.9');
});

test('a peer that is not a trusted proxy cannot choose its address with X-Forwarded-For', (t) => {
  t.is(clientAddress('203.0.113.7', '10.0.0.9', proxy), '203.0.113.7');
});

test('garbage in X-Forwarded-For leaves the proxy as the client', (t) => {
  t.is(clientAddress('10.0.0.5', 'not-an-ip', proxy), '10.0.0.5');
  t.is(clientAddress('10.0.0.5', '10.0.0.6', proxy), '10.0.0.5');
});

test('IPv4 addresses are their own key', (t) => {
  t.is(addressKey('203.0.113.7'), '203.0.113.7');
});

test('IPv6 addresses are keyed by their /64, however written', (t) => {
  t.is(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.is(addressKey('2001:0db8:0001:0002::1'), '2001:db8:1:2::/64');
  t.is(addressKey('[2001:db8:1:2::5]'), '2001:db8:1:2::/64');
  t.is(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.is(addressKey('::1'), '0:0:0:0::/64');
  t.is(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.is(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
});
