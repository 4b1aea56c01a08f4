/**
 * `npm run bench -- --topology cluster`: Flint on the production topology (`flint cluster up`:
 * 3 NATS nodes at replicas 3, PostgreSQL, 2 gateways, 2 schedulers, 3 agents), with what a
 * second gateway adds: sustained creates per second and `volume(id)` reads per second with
 * every client on one gateway, then with the clients split over both. Next to it, the floor
 * the cluster stands on: a JetStream publish to a stream at replicas 1 and at replicas 3 of a
 * bare 3-node NATS cluster on this machine.
 */
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { clusterUp } from '../src/cli/cluster/cluster.js';
import { agentsIn2Zones } from '../src/cli/cluster/topology.js';
import { startNatsServer, type NatsServerProcess } from '../src/cli/dev/nats-server.js';
import { freePort } from '../src/net/free-port.js';
import { tempDir } from '../tests/helpers/tmp.js';
import { load } from './api-limits.js';
import { sample } from './baselines.js';
import type { Cleanup } from './cleanup.js';
import { deleteAllVolumes, openClients, sustainedPhase } from './create-latency.js';
import { row, type Row } from './report.js';

export interface ClusterBenchResult {
  clients: number;
  createsPerSecond: { oneGateway: number; twoGateways: number };
  readsPerSecond: { oneGateway: number; twoGateways: number };
  rows: Row[];
}

const CLIENTS = 16;

export async function clusterBench(opts: { quick: boolean; log: (msg: string) => void; cleanup: Cleanup }): Promise<ClusterBenchResult> {
  const seconds = opts.quick ? 5 : 15;
  const publishes = opts.quick ? 300 : 2000;
  opts.log(`JetStream publish at replicas 1 and 3 on a bare 3-node NATS cluster, ${publishes} each`);
  const publish = await publishCost(publishes, opts.cleanup);
  await opts.cleanup.run();

  const dir = await tempDir('flint-bench-cluster-');
  opts.cleanup.add('cluster dir', () => dir.cleanup());
  opts.log('flint cluster up: 3 NATS nodes (R3), PostgreSQL, 2 gateways, 2 schedulers, 3 agents');
  const cluster = await clusterUp({
    spec: {
      dir: dir.path,
      natsNodes: 3,
      gateways: 2,
      schedulers: 2,
      agents: agentsIn2Zones(3, 10_000),
      env: {
        FLINT_QUOTA_DEFAULTS: JSON.stringify({ volumes: -1, gigabytes: -1, snapshots: -1, backups: -1, backupGigabytes: -1 }),
        FLINT_API_RATE_PER_SECOND: '1000000',
        FLINT_API_RATE_BURST: '1000000',
      },
    },
    say: opts.log,
  });
  opts.cleanup.add('flint cluster', () => cluster.down({ purge: true }));
  const token = cluster.token('bench', 'member');
  const [gw1, gw2] = cluster.state.gatewayUrls as [string, string];

  const creates = async (urls: string[], tag: string): Promise<number> => {
    const clients = (await Promise.all(urls.map((u, i) => openClients(u, token, CLIENTS / urls.length, `${tag}${i}`)))).flat();
    try {
      const r = await sustainedPhase(clients, seconds, tag);
      if (r.errors.length) throw new Error(`creates (${tag}): ${r.errors[0]}`);
      await deleteAllVolumes(clients.slice(0, 1));
      return r.perSecond;
    } finally {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    }
  };
  opts.log(`sustained creates, ${CLIENTS} clients, ${seconds} s: one gateway, then two`);
  const createsOne = await creates([gw1], 'one');
  const createsTwo = await creates([gw1, gw2], 'two');

  const [reader] = await openClients(gw1, token, 1, 'read');
  const volumeId = (await reader!.createAndWait('bench-read')).id;
  await reader!.close();
  opts.log(`volume(id), ${CLIENTS * 2} clients, ${seconds} s: one gateway, then two`);
  const readsOne = await load(gw1, token, volumeId, CLIENTS * 2, seconds);
  const readsTwo = (await Promise.all([load(gw1, token, volumeId, CLIENTS, seconds), load(gw2, token, volumeId, CLIENTS, seconds)])).reduce((s, v) => s + v, 0);
  await opts.cleanup.run();
  return {
    clients: CLIENTS,
    createsPerSecond: { oneGateway: createsOne, twoGateways: createsTwo },
    readsPerSecond: { oneGateway: readsOne, twoGateways: readsTwo },
    rows: [row('JetStream publish, R1 (3-node cluster)', publish.r1), row('JetStream publish, R3 (3-node cluster)', publish.r3)],
  };
}

/** A bare 3-node NATS cluster (no Flint, no auth) and one stream at each replica count. */
async function publishCost(n: number, cleanup: Cleanup): Promise<{ r1: number[]; r3: number[] }> {
  const store = await tempDir('flint-bench-nats3-');
  cleanup.add('nats cluster store', () => store.cleanup());
  const routes = await Promise.all([0, 1, 2].map(() => freePort()));
  const nodes: NatsServerProcess[] = await Promise.all(
    routes.map((routePort, i) =>
      startNatsServer({ storeDir: `${store.path}/n${i}`, serverName: `bench-n${i}`, cluster: { name: 'bench', routePort, routes: routes.filter((r) => r !== routePort).map((r) => `nats://127.0.0.1:${r}`) } }),
    ),
  );
  for (const node of nodes) cleanup.add(`nats ${node.port}`, () => node.stop());
  const nc = await connect({ servers: nodes.map((x) => x.url) });
  cleanup.add('nats client', () => nc.close());
  // The meta leader is elected a moment after the nodes start: no API check, and the first add is asked again.
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  for (let i = 0; ; i++) {
    try {
      await jsm.streams.add({ name: 'R1', subjects: ['bench.r1'], storage: StorageType.File, num_replicas: 1 });
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await jsm.streams.add({ name: 'R3', subjects: ['bench.r3'], storage: StorageType.File, num_replicas: 3 });
  const js = jetstream(nc);
  const payload = new TextEncoder().encode(JSON.stringify({ v: 1, id: 'x'.repeat(26), kind: 'bench', at: new Date().toISOString(), payload: {} }));
  return { r1: await sample(n, () => js.publish('bench.r1', payload)), r3: await sample(n, () => js.publish('bench.r3', payload)) };
}
