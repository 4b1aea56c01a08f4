import test from 'ava';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Principal } from '../../../src/db/index.js';
import { CLOSE_TOKEN_REFUSED, TokenSessions } from '../../../src/gateway/http/token-sessions.js';

class FakeSocket extends EventEmitter {
  readyState = 1;
  closed: { code: number; reason: string } | undefined;
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.readyState = 3;
    this.emit('close');
  }
}

const p = (tokenId: string, expiresAt: Date | null = null): Principal => ({ tokenId, projectId: 'p', projectName: 'p', role: 'member', expiresAt });

test('closing a token closes its sockets with 4403 and the reason, and no others', (t) => {
  const s = new TokenSessions();
  t.teardown(() => s.stop());
  const [a1, a2, b] = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
  s.add(a1, p('a'));
  s.add(a2, p('a'));
  s.add(b, p('b'));
  t.is(s.close('a', 'revoked'), 2);
  t.deepEqual(a1.closed, { code: CLOSE_TOKEN_REFUSED, reason: 'Forbidden: the token was revoked' });
  t.deepEqual(a2.closed, a1.closed);
  t.is(b.closed, undefined);
  t.deepEqual(s.tokenIds(), ['b']);
});

test('a socket that closes by itself is forgotten', (t) => {
  const s = new TokenSessions();
  t.teardown(() => s.stop());
  const a = new FakeSocket();
  s.add(a, p('a'));
  a.close(1000, 'bye');
  t.deepEqual(s.tokenIds(), []);
  t.is(s.close('a', 'revoked'), 0);
});

test('a socket that closed while its token was checked is not tracked', (t) => {
  const s = new TokenSessions();
  const a = new FakeSocket();
  a.readyState = 3;
  s.add(a, p('a'));
  t.deepEqual(s.tokenIds(), []);
});

test('an expiring token\'s sockets close at its expiry, and the owner is told', async (t) => {
  const expired: string[] = [];
  const s = new TokenSessions((id) => expired.push(id));
  t.teardown(() => s.stop());
  const a = new FakeSocket();
  s.add(a, p('a', new Date(Date.now() + 150)));
  await sleep(50);
  t.is(a.closed, undefined);
  await sleep(250);
  t.deepEqual(a.closed, { code: CLOSE_TOKEN_REFUSED, reason: 'Forbidden: the token expired' });
  t.deepEqual(expired, ['a']);
});

test('a token already expired when its socket connects is closed at once', (t) => {
  const s = new TokenSessions();
  const a = new FakeSocket();
  s.add(a, p('a', new Date(Date.now() - 1)));
  t.is(a.closed?.code, CLOSE_TOKEN_REFUSED);
  t.deepEqual(s.tokenIds(), []);
});
