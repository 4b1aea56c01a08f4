/**
 * Attach latency (issue 4): from `createAttachment` (with a connector) until the
 * attachment's `connectionInfo` arrives on `attachmentChanged` and the target answers a
 * real login (an iSCSI inquiry by the connector's initiator with the CHAP credentials),
 * then detach, untimed. p50/p99 over `n` attachments of one volume. Needs a running
 * cluster (see bench/run.ts) and iscsi-inq (libiscsi-bin).
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { percentile } from './stats.js';

const INI = 'iqn.2026-11.bench.flint:consumer';
const CREATE_VOLUME = 'mutation($i: CreateVolumeInput!) { createVolume(input: $i) { volume { id } } }';
const VOLUME = 'query($id: ID!) { volume(id: $id) { status } }';
const ATTACH = 'mutation($i: CreateAttachmentInput!) { createAttachment(input: $i) { attachment { id } } }';
const DETACH = 'mutation($id: ID!) { deleteAttachment(input: { id: $id }) { attachment { id } } }';
const CHANGED = 'subscription($id: ID!) { attachmentChanged(id: $id) { status connectionInfo { data { targetIqn targetPortal targetLun authUsername authPassword } } } }';

interface Conn {
  targetIqn: string;
  targetPortal: string;
  targetLun: number;
  authUsername: string;
  authPassword: string;
}
interface Changed {
  status: string;
  connectionInfo: { data: Conn } | null;
}

export interface AttachLatency {
  n: number;
  p50Ms: number;
  p99Ms: number;
  samples: number[];
}

async function post<T>(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Attaches and detaches one volume `n` times, timing each attach until the target answers. */
export async function attachLatency(url: string, token: string, n: number): Promise<AttachLatency> {
  const ws = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, lazy: true, retryAttempts: 0 });
  try {
    const v = await post<{ createVolume: { volume: { id: string } } }>(url, token, CREATE_VOLUME, { i: { name: 'bench-attach', sizeGiB: 1 } });
    const volumeId = v.createVolume.volume.id;
    for (let i = 0; i < 300; i++) {
      if ((await post<{ volume: { status: string } }>(url, token, VOLUME, { id: volumeId })).volume.status === 'AVAILABLE') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const samples: number[] = [];
    for (let k = 0; k < n; k++) {
      const t0 = performance.now();
      const a = await post<{ createAttachment: { attachment: { id: string } } }>(url, token, ATTACH, {
        i: { volumeId, instanceId: `bench-${k}`, connector: { initiator: INI, host: 'bench' } },
      });
      const id = a.createAttachment.attachment.id;
      const conn = await until(ws, id, (c) => c.connectionInfo !== null, 60_000);
      const d = conn.connectionInfo!.data;
      const inq = spawnSync('iscsi-inq', ['-i', INI, `iscsi://${encodeURIComponent(d.authUsername)}%${encodeURIComponent(d.authPassword)}@${d.targetPortal}/${d.targetIqn}/${d.targetLun}`], { encoding: 'utf8' });
      if (inq.status !== 0) throw new Error(`the target did not answer: ${inq.stderr}`);
      samples.push(performance.now() - t0);
      await post(url, token, DETACH, { id });
      await until(ws, id, (c) => c.status === 'DETACHED', 60_000);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    return { n, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), samples };
  } finally {
    await ws.dispose();
  }
}

function until(ws: ReturnType<typeof createClient>, id: string, pred: (c: Changed) => boolean, timeoutMs: number): Promise<Changed> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`attachment ${id}: no matching state within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = ws.subscribe<{ attachmentChanged: Changed }>(
      { query: CHANGED, variables: { id } },
      {
        next: (r) => {
          const c = r.data?.attachmentChanged;
          if (c && pred(c)) {
            clearTimeout(timer);
            stop();
            resolve(c);
          }
        },
        error: (e) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(JSON.stringify(e)));
        },
        complete: () => undefined,
      },
    );
  });
}

export function formatAttachLatency(r: AttachLatency): string {
  return `attach (connectionInfo returned and iSCSI target answering), n=${r.n}: p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`;
}
