/**
 * Snapshot measurements for `npm run bench`: createSnapshot → AVAILABLE and
 * createVolume(snapshotId) → AVAILABLE, each as a subscriber sees it. After the mutation
 * returns, the client subscribes to `snapshotChanged(id)` (or `volumeChanged(id)`), which
 * sends the current state first, so an event missed between the two is never waited for;
 * the time is from just before the POST to the arrival of the AVAILABLE event. Each
 * client snapshots its own source volume (made untimed beforehand), one snapshot after
 * another; clients run at once. Plus the untimed clean-up of snapshots.
 */
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { BenchClient } from './client.js';

const SNAPSHOT = 'mutation($input: CreateSnapshotInput!) { createSnapshot(input: $input) { snapshot { id } } }';
const CLONE = 'mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } } }';
const SNAPSHOT_CHANGED = 'subscription($id: ID!) { snapshotChanged(id: $id) { id status } }';
const VOLUME_CHANGED = 'subscription($id: ID!) { volumeChanged(id: $id) { id status } }';

export interface SnapshotRun {
  clients: number;
  perClient: number;
  samples: number[];
  errors: string[];
  wallMs: number;
}

/** A graphql-ws connection per bench client, for the per-resource subscriptions. */
export function wsFor(url: string, token: string): Client {
  return createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, lazy: true, retryAttempts: 0 });
}

/** Resolves with the arrival time of the first event whose status is AVAILABLE; rejects on ERROR*, an error, or the timeout. */
function untilAvailable(ws: Client, query: string, field: 'snapshotChanged' | 'volumeChanged', id: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, at?: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stop();
      if (err) reject(err);
      else resolve(at!);
    };
    const timer = setTimeout(() => finish(new Error(`${field} ${id}: not AVAILABLE within ${timeoutMs} ms`)), timeoutMs);
    const stop = ws.subscribe<Record<string, { status: string }>>(
      { query, variables: { id } },
      {
        next: (r) => {
          const at = performance.now();
          if (r.errors) return finish(new Error(`${field} ${id}: ${JSON.stringify(r.errors)}`));
          const status = r.data?.[field]?.status;
          if (status === 'AVAILABLE') finish(null, at);
          else if (status?.startsWith('ERROR')) finish(new Error(`${field} ${id} ended ${status}`));
        },
        error: (e) => finish(new Error(`${field} ${id}: ${e instanceof Error ? e.message : JSON.stringify(e)}`)),
        complete: () => finish(new Error(`${field} ${id}: completed before AVAILABLE`)),
      },
    );
  });
}

/** createSnapshot of `volumeId` → AVAILABLE on snapshotChanged; returns the snapshot id and the latency. */
async function snapshotAndWait(c: BenchClient, ws: Client, volumeId: string, name: string): Promise<{ id: string; latencyMs: number }> {
  const sentAt = performance.now();
  const r = await c.gql<{ createSnapshot: { snapshot: { id: string } } }>(SNAPSHOT, { input: { volumeId, name } });
  if (r.errors || !r.data) throw new Error(`createSnapshot failed: ${JSON.stringify(r.errors)}`);
  const id = r.data.createSnapshot.snapshot.id;
  const at = await untilAvailable(ws, SNAPSHOT_CHANGED, 'snapshotChanged', id, 60_000);
  return { id, latencyMs: at - sentAt };
}

/** Every client takes `perClient` snapshots of its own volume, one after another, all clients at once. Returns the last snapshot of each client too. */
export async function snapshotPhase(clients: BenchClient[], ws: Client[], volumes: string[], perClient: number, tag: string): Promise<SnapshotRun & { last: string[] }> {
  const samples: number[] = [];
  const errors: string[] = [];
  const last: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      for (let k = 0; k < perClient; k++) {
        try {
          const s = await snapshotAndWait(c, ws[i]!, volumes[i]!, `bench-${tag}-c${i}-${k}`);
          samples.push(s.latencyMs);
          last[i] = s.id;
        } catch (err) {
          errors.push((err as Error).message);
          return;
        }
      }
    }),
  );
  return { clients: clients.length, perClient, samples, errors, wallMs: performance.now() - t0, last };
}

/** Every client creates `perClient` volumes from its snapshot (same pool, same size), all clients at once. */
export async function clonePhase(clients: BenchClient[], ws: Client[], snapshots: string[], perClient: number, tag: string): Promise<SnapshotRun> {
  const samples: number[] = [];
  const errors: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, i) => {
      for (let k = 0; k < perClient; k++) {
        try {
          const sentAt = performance.now();
          const r = await c.gql<{ createVolume: { volume: { id: string } } }>(CLONE, { input: { name: `bench-${tag}-c${i}-${k}`, snapshotId: snapshots[i] } });
          if (r.errors || !r.data) throw new Error(`createVolume from snapshot failed: ${JSON.stringify(r.errors)}`);
          const at = await untilAvailable(ws[i]!, VOLUME_CHANGED, 'volumeChanged', r.data.createVolume.volume.id, 120_000);
          samples.push(at - sentAt);
        } catch (err) {
          errors.push((err as Error).message);
          return;
        }
      }
    }),
  );
  return { clients: clients.length, perClient, samples, errors, wallMs: performance.now() - t0 };
}

const LIST_SNAPSHOTS = 'query { all: snapshots(first: 0) { totalCount } deletable: snapshots(first: 500, filter: { status: [AVAILABLE, ERROR, ERROR_DELETING] }) { edges { node { id } } } }';
const DELETE_SNAPSHOT = 'mutation($input: DeleteSnapshotInput!) { deleteSnapshot(input: $input) { snapshot { id } } }';

/** Deletes every snapshot the token can see and waits until none is left (then volumes can go). Not timed. */
export async function deleteAllSnapshots(clients: BenchClient[], timeoutMs = 300_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let deleted = 0;
  for (;;) {
    const r = await clients[0]!.gql<{ all: { totalCount: number }; deletable: { edges: Array<{ node: { id: string } }> } }>(LIST_SNAPSHOTS);
    if (r.errors || !r.data) throw new Error(`listing snapshots failed: ${JSON.stringify(r.errors)}`);
    if (r.data.all.totalCount === 0) return deleted;
    if (Date.now() > until) throw new Error(`${r.data.all.totalCount} snapshots still there after ${timeoutMs} ms of deleting`);
    const ids = r.data.deletable.edges.map((e) => e.node.id);
    let next = 0;
    await Promise.all(
      clients.map(async (c) => {
        for (let j = next++; j < ids.length; j = next++) {
          const d = await c.gql(DELETE_SNAPSHOT, { input: { id: ids[j] } });
          if (!d.errors) deleted++;
          else if (d.errors[0]?.extensions?.code !== 'INVALID_STATE') throw new Error(`deleteSnapshot failed: ${JSON.stringify(d.errors)}`);
        }
      }),
    );
    if (ids.length === 0) await new Promise((res) => setTimeout(res, 200));
  }
}

export interface SnapshotBenchParams {
  /** Snapshots taken one after another by a single client. */
  snapC1: number;
  /** Snapshots per client with every client at once. */
  snapPerClient: number;
  /** Volumes created from a snapshot per client with every client at once. */
  clonePerClient: number;
}

/**
 * The whole snapshot part of the bench on `clients` (already subscribed, see openClients):
 * one source volume per client (untimed), snapshot latency at c=1 and c=clients.length,
 * clone-from-snapshot latency at c=clients.length; leaves no snapshot behind (the
 * volumes are left for `deleteAllVolumes`). Throws when any client failed.
 */
export async function snapshotBench(url: string, token: string, clients: BenchClient[], p: SnapshotBenchParams): Promise<{ rows: Array<[string, number[]]>; runs: SnapshotRun[] }> {
  const ws = clients.map(() => wsFor(url, token));
  try {
    const volumes = await Promise.all(clients.map(async (c, i) => (await c.createAndWait(`bench-snapsrc-c${i}`)).id));
    const one = await snapshotPhase(clients.slice(0, 1), ws.slice(0, 1), volumes.slice(0, 1), p.snapC1, 'snap1');
    const many = await snapshotPhase(clients, ws, volumes, p.snapPerClient, 'snapN');
    const clones = await clonePhase(clients, ws, many.last, p.clonePerClient, 'cloneN');
    for (const [name, r] of [['snapshot c=1', one], [`snapshot c=${clients.length}`, many], [`clone c=${clients.length}`, clones]] as const) {
      if (r.errors.length > 0) throw new Error(`${name}: ${r.errors.length} client(s) failed, first: ${r.errors[0]}`);
    }
    await deleteAllSnapshots(clients);
    const n = clients.length;
    return {
      rows: [
        ['snapshot create→AVAILABLE (subscriber), c=1', one.samples],
        [`snapshot create→AVAILABLE (subscriber), c=${n}`, many.samples],
        [`clone from snapshot→AVAILABLE (subscriber), c=${n}`, clones.samples],
      ],
      runs: [one, many, clones],
    };
  } finally {
    await Promise.all(ws.map((w) => w.dispose()));
  }
}
