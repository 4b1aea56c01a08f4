/**
 * `WsGuard.onConnect`/`onClose` of src/gateway/limits/ws-guard.ts with a gate whose
 * authentication the test resolves by hand: the per-token count of sockets is taken
 * once per acknowledged socket and always given back.
 */
import test from 'ava';
import { loadConfig } from '../../../src/config/index.js';
import type { Principal } from '../../../src/db/index.js';
import { operationLimitsOf, WsGuard, type RequestGate } from '../../../src/gateway/limits/index.js';

const principal: Principal = { tokenId: 't1', projectId: 'p1', projectName: 'p', role: 'member' };

/** A gate whose authentications wait for `release()`. */
function slowGate(): { gate: RequestGate; release: () => void } {
  const waiting: Array<() => void> = [];
  const gate = {
    address: () => '127.0.0.1',
    authenticate: () => new Promise((resolve) => waiting.push(() => resolve({ principal }))),
  } as unknown as RequestGate;
  return { gate, release: () => waiting.splice(0).forEach((r) => r()) };
}

const OPEN = 1;
const CLOSED = 3;

function socketCtx() {
  const closes: number[] = [];
  const socket = { OPEN, readyState: OPEN, close: (code: number) => void closes.push(code) };
  const ctx = { connectionParams: { authorization: 'Bearer x' }, subscriptions: {}, extra: { socket, request: {} } };
  return { ctx: ctx as never, socket, closes };
}

function guard(gate: RequestGate): WsGuard {
  const config = loadConfig({ FLINT_API_WS_MAX_CONNECTIONS_PER_TOKEN: '1' }).apiLimits;
  return new WsGuard(config, gate, operationLimitsOf(config));
}

test('a socket closed while its token was checked is refused and counts nothing', async (t) => {
  const { gate, release } = slowGate();
  const g = guard(gate);
  const gone = socketCtx();
  const pending = g.onConnect(gone.ctx);
  gone.socket.readyState = CLOSED;
  g.onClose(gone.ctx);
  release();
  t.false(await pending);
  const next = socketCtx();
  const accepted = g.onConnect(next.ctx);
  release();
  t.true(await accepted);
});

test('the token count is given back when an acknowledged socket closes', async (t) => {
  const { gate, release } = slowGate();
  const g = guard(gate);
  const first = socketCtx();
  const a = g.onConnect(first.ctx);
  release();
  t.true(await a);
  const second = socketCtx();
  const b = g.onConnect(second.ctx);
  release();
  t.false(await b);
  t.deepEqual(second.closes, [4429]);
  g.onClose(first.ctx);
  const third = socketCtx();
  const c = g.onConnect(third.ctx);
  release();
  t.true(await c);
});
