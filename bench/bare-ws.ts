/**
 * The floor of the fan-out benchmark: a bare `ws` server (the library graphql-ws runs on in the
 * gateway) that speaks only what the bench's subscribers need of graphql-transport-ws
 * (`connection_init` → `connection_ack`; `subscribe` → a first `next`), and on
 * `POST /rename?name=…` writes one `next` frame naming the volume's new name to every
 * subscription, built from bytes made once per rename. No GraphQL, no authentication, no
 * database, no NATS: what any server must do to tell N subscribers one change, on this machine.
 * Run as a process of its own, as a gateway is; it prints its URL on stdout when it listens.
 *
 *   node dist/bench/bare-ws.js
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const VOLUME_ID = '00000000-0000-4000-8000-000000000001';
let version = 1;
let name = 'fanout';
const subscriptions = new Map<WebSocket, string[]>();

const payload = () => `,"type":"next","payload":{"data":{"volumeChanged":{"id":"${VOLUME_ID}","name":${JSON.stringify(name)},"status":"AVAILABLE","version":${version}}}}}`;

const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method !== 'POST' || url.pathname !== '/rename') {
    res.writeHead(404).end();
    return;
  }
  name = url.searchParams.get('name') ?? name;
  version++;
  const tail = payload();
  for (const [socket, ids] of subscriptions) for (const id of ids) socket.send(`{"id":${JSON.stringify(id)}${tail}`);
  res.writeHead(204).end();
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (socket) => {
  subscriptions.set(socket, []);
  socket.on('close', () => subscriptions.delete(socket));
  socket.on('message', (data) => {
    const m = JSON.parse(String(data)) as { type: string; id?: string };
    if (m.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (m.type === 'subscribe' && m.id) {
      subscriptions.get(socket)?.push(m.id);
      socket.send(`{"id":${JSON.stringify(m.id)}${payload()}`);
    }
  });
});
http.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql ${VOLUME_ID}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
