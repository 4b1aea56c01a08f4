/**
 * The Flint measurements: create → AVAILABLE as seen by a subscriber, at a given
 * number of concurrent clients, and sustained creates per second; plus the untimed
 * deletes that keep the pools empty between phases.
 */
import { performance } from 'node:perf_hooks';
import { BenchClient } from './client.js';
import type { ClientTimes } from './hops.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens `n` clients, each with its subscription proven live by one untimed create. */
export async function openClients(url: string, token: string, n: number, tag: string): Promise<BenchClient[]> {
  const clients = Array.from({ length: n }, () => new BenchClient(url, token));
  await Promise.all(
    clients.map(async (c, i) => {
      c.subscribe();
      // The subscribe message may still be on its way when the first create is
      // answered: warm up until one create is seen through the subscription.
      for (let attempt = 1; ; attempt++) {
        try {
          await c.createAndWait(`bench-${tag}-c${i}-warmup${attempt}`, 10_000);
          return;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    }),
  );
  return clients;
}

export interface LatencyRun {
  clients: number;
  perClient: number;
  samples: number[];
  /** Each create's operation and its client's times (epoch ms), for the per-hop breakdown. */
  times: ClientTimes[];
  errors: string[];
  wallMs: number;
}

/** Every client creates `perClient` volumes one after another, all clients at once. */
export async function latencyPhase(clients: BenchClient[], perClient: number, tag: string): Promise<LatencyRun> {
  const samples: number[] = [];
  const times: ClientTimes[] = [];
  const errors: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      for (let k = 0; k < perClient; k++) {
        try {
          const r = await c.createAndWait(`bench-${tag}-c${i}-${k}`);
          samples.push(r.latencyMs);
          times.push({ operationId: r.operationId, sentAt: performance.timeOrigin + r.sentAt, seenAt: performance.timeOrigin + r.availableAt });
        } catch (err) {
          errors.push((err as Error).message);
          return;
        }
      }
    }),
  );
  return { clients: clients.length, perClient, samples, times, errors, wallMs: performance.now() - t0 };
}

export interface SustainedRun {
  clients: number;
  seconds: number;
  /** Volumes created in the window that were AVAILABLE before it closed. */
  completed: number;
  perSecond: number;
  /** Creates sent in the window that became AVAILABLE only after it closed (not counted). */
  late: number;
  samples: number[];
  errors: string[];
  /** Until the last in-flight create finished. */
  wallMs: number;
}

/** Every client creates and waits for AVAILABLE in a loop until the window closes. */
export async function sustainedPhase(clients: BenchClient[], seconds: number, tag: string): Promise<SustainedRun> {
  const samples: number[] = [];
  const errors: string[] = [];
  let completed = 0;
  let late = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    clients.map(async (c, i) => {
      for (let k = 0; performance.now() < end; k++) {
        try {
          const r = await c.createAndWait(`bench-${tag}-c${i}-${k}`);
          if (r.availableAt <= end) {
            completed++;
            samples.push(r.latencyMs);
          } else late++;
        } catch (err) {
          errors.push((err as Error).message);
          return;
        }
      }
    }),
  );
  return { clients: clients.length, seconds, completed, perSecond: completed / seconds, late, samples, errors, wallMs: performance.now() - start };
}

const LIST = 'query { all: volumes(first: 0) { totalCount } deletable: volumes(first: 500, filter: { status: [AVAILABLE, ERROR] }) { edges { node { id } } } }';
const DELETE = 'mutation($input: DeleteVolumeInput!) { deleteVolume(input: $input) { volume { id } } }';

/** Deletes every volume the clients' token can see and waits until none is left. Not timed. */
export async function deleteAllVolumes(clients: BenchClient[], timeoutMs = 300_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let deleted = 0;
  for (;;) {
    const r = await clients[0]!.gql<{ all: { totalCount: number }; deletable: { edges: Array<{ node: { id: string } }> } }>(LIST);
    if (r.errors || !r.data) throw new Error(`listing volumes failed: ${JSON.stringify(r.errors)}`);
    if (r.data.all.totalCount === 0) return deleted;
    if (Date.now() > until) throw new Error(`${r.data.all.totalCount} volumes still there after ${timeoutMs} ms of deleting`);
    const ids = r.data.deletable.edges.map((e) => e.node.id);
    let next = 0;
    await Promise.all(
      clients.map(async (c) => {
        for (let j = next++; j < ids.length; j = next++) {
          const d = await c.gql(DELETE, { input: { id: ids[j] } });
          if (!d.errors) deleted++;
          else if (d.errors[0]?.extensions?.code !== 'INVALID_STATE') throw new Error(`deleteVolume failed: ${JSON.stringify(d.errors)}`);
        }
      }),
    );
    if (ids.length === 0) await sleep(200);
  }
}
