/**
 * The attacks of issue 11, tried against a whole Flint (every role its own process, with
 * its own credentials, as the cluster helper starts them): a forged delete, a forged event
 * about another host's volume, a forged live message, a reconciliation for another host.
 * Receivers trust the database, not the payload.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  decodeEnvelope,
  decodePayload,
  encode,
  inboxPrefix,
  KIND,
  natsAuthOptions,
  reconcileReply,
  RECOVERY_KIND,
  subjects,
  type BusRole,
  type VolumeMissing,
} from '../../src/bus/index.js';
import { gql, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { collect, wsClient } from '../helpers/ws.js';

const test = anyTest as TestFn<{ c: Cluster; conns: NatsConnection[] }>;

interface VolumeRow {
  id: string;
  status: string;
  host: string;
  pool: string;
  version: number;
  projectId?: string;
}

test.before(async (t) => {
  const c = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'host-a', pools: [{ name: 'p', imageFormat: 'raw', capabilities: { node: 'a' } }] },
      { host: 'host-b', pools: [{ name: 'p', imageFormat: 'raw', capabilities: { node: 'b' } }] },
    ],
  });
  t.context = { c, conns: [] };
  for (const n of ['a', 'b']) {
    const r = await gql(c.url, c.adminToken, 'mutation($input: CreateVolumeTypeInput!) { createVolumeType(input: $input) { id } }', {
      input: { name: `on-${n}`, extraSpecs: { 'capabilities:node': n } },
    });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
  }
});

test.after.always(async (t) => {
  for (const nc of t.context.conns ?? []) await nc.close().catch(() => undefined);
  await t.context.c?.stop();
});

test.afterEach((t) => {
  if (!t.passed) t.log(t.context.c.logs());
});

async function as(t: { context: { c: Cluster; conns: NatsConnection[] } }, role: BusRole, host?: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: t.context.c.nats.url,
    inboxPrefix: inboxPrefix(role, host),
    maxReconnectAttempts: 0,
    ...natsAuthOptions({ nkeySeedFile: t.context.c.natsSeed(role, host) }),
  });
  t.context.conns.push(nc);
  return nc;
}

async function volume(c: Cluster, id: string): Promise<VolumeRow> {
  const r = await gql(c.url, c.adminToken, 'query($id: ID!) { volume(id: $id) { id status host pool version } }', { id });
  return (r.data as { volume: VolumeRow }).volume;
}

/** An AVAILABLE volume on `host` (`host-a` or `host-b`, through the volume type that selects its pool). */
async function availableOn(c: Cluster, host: 'host-a' | 'host-b', name: string): Promise<VolumeRow> {
  const r = await gql(c.url, c.adminToken, `mutation { createVolume(input: {name: "${name}", sizeGiB: 1, volumeType: "on-${host.slice(-1)}"}) { volume { id } } }`);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  const id = (r.data as { createVolume: { volume: { id: string } } }).createVolume.volume.id;
  let v!: VolumeRow;
  await waitFor(async () => (v = await volume(c, id)).status === 'AVAILABLE', 30_000, () => `volume ${id} did not become AVAILABLE: ${JSON.stringify(v)}`);
  if (v.host !== host) throw new Error(`volume ${id} landed on ${v.host}, not ${host}`);
  return v;
}

test.serial('a forged delete cannot reach an agent: another agent and an anonymous client are refused, and the volume and its image stay', async (t) => {
  const { c } = t.context;
  const v = await availableOn(c, 'host-a', 'keep');
  const image = join(c.poolDir('host-a', 'p'), `volume-${v.id}.raw`);
  const forged = encode(KIND.agentDelete, { operationId: '00000000-0000-4000-8000-000000000001', volumeId: v.id, pool: 'p' });

  await t.throwsAsync(connect({ servers: c.nats.url, maxReconnectAttempts: 0 }), { message: /Authorization Violation/ });
  const b = await as(t, 'agent', 'host-b');
  const refused = new Promise<string>((done) => {
    void (async () => {
      for await (const s of b.status()) if (s.type === 'error') return done(String(s.error?.message));
    })();
  });
  b.publish(subjects.agent('host-a', 'delete_volume'), forged);
  await b.flush();
  t.regex(await refused, /Permissions Violation for Publish to "flint\.cmd\.agent\.host-a\.delete_volume"/);

  await new Promise((r) => setTimeout(r, 1500));
  t.is((await volume(c, v.id)).status, 'AVAILABLE');
  t.true(existsSync(image), `${image} is gone`);
});

/** A `volume.missing` report, which moves an AVAILABLE volume to ERROR when the recorder accepts it. */
function missing(v: VolumeRow, host: string): Uint8Array {
  return encode(RECOVERY_KIND.volumeMissing, { volumeId: v.id, host, pool: 'p', status: 'available', version: v.version, poolConfigured: true } satisfies VolumeMissing);
}

test.serial('an event about a volume another host holds is ignored by the recorder: the volume stays AVAILABLE', async (t) => {
  const { c } = t.context;
  const v = await availableOn(c, 'host-a', 'held-by-a');
  const b = await as(t, 'agent', 'host-b');
  // Agent B may publish on its own event subjects only; it names A's volume in the payload (and itself as the host).
  b.publish(subjects.agentEvent('host-b', 'volume', v.id), missing(v, 'host-b'));
  await b.flush();
  await waitFor(async () => /event ignored: the database places that volume on host-a, not on host-b/.test(c.logs()), 20_000, () => 'the recorder did not say it ignored the event');
  t.like(await volume(c, v.id), { status: 'AVAILABLE', version: v.version });
});

test.serial('the same event from the host that holds the volume is applied (the check above can fail)', async (t) => {
  const { c } = t.context;
  const v = await availableOn(c, 'host-a', 'really-missing');
  const a = await as(t, 'agent', 'host-a');
  a.publish(subjects.agentEvent('host-a', 'volume', v.id), missing(v, 'host-a'));
  await a.flush();
  await waitFor(async () => (await volume(c, v.id)).status === 'ERROR', 20_000, () => 'the genuine report was not applied');
  t.pass();
});

test.serial('a forged live message cannot reach a subscriber: what it sees is what the database holds', async (t) => {
  const { c } = t.context;
  const v = await availableOn(c, 'host-b', 'watched');
  const client = wsClient(c.url, c.adminToken);
  t.teardown(() => void client.dispose());
  const sub = collect(client, 'subscription($id: ID!) { volumeChanged(id: $id) { id name status version } }', { id: v.id }, (d) => d.volumeChanged as { name: string; status: string; version: number });
  await sub.waitFor((x) => x.status === 'AVAILABLE');
  const project = ((await gql(c.url, c.adminToken, '{ viewer { projectId } }')).data as { viewer: { projectId: string } }).viewer.projectId;
  const subject = subjects.liveVolume(project, v.id);

  // An agent (or a scheduler) may not publish live events at all.
  const a = await as(t, 'agent', 'host-a');
  const refused = new Promise<string>((done) => {
    void (async () => {
      for await (const s of a.status()) if (s.type === 'error') return done(String(s.error?.message));
    })();
  });
  a.publish(subject, encode(KIND.liveVolume, { id: v.id, type: 'DELETED', volume: { ...v, status: 'ERROR' } }));
  await a.flush();
  t.regex(await refused, /Permissions Violation/);

  // Even from a gateway's credentials, the message only names the volume: subscribers get the row as the database has it.
  const g = await as(t, 'gateway');
  g.publish(subject, encode(KIND.liveVolume, { id: v.id, type: 'DELETED', volume: { ...v, status: 'ERROR', name: 'forged' } }));
  await g.flush();
  const renamed = await gql(c.url, c.adminToken, 'mutation($id: ID!) { updateVolume(input: { id: $id, name: "renamed" }) { volume { version } } }', { id: v.id });
  t.falsy(renamed.errors);
  await sub.waitFor((x) => x.name === 'renamed');
  sub.close();
  t.true(sub.values.every((x) => x.status === 'AVAILABLE' && x.name !== 'forged'), JSON.stringify(sub.values));
  t.false(sub.completed, 'the subscription ended as if the volume were deleted');
});

test.serial('a reconciliation request is answered for the asking host only, and one naming another host is not answered', async (t) => {
  const { c } = t.context;
  const onA = await availableOn(c, 'host-a', 'rec-a');
  const b = await as(t, 'agent', 'host-b');
  const mine = decodePayload(decodeEnvelope((await b.request(subjects.reconcile('host-b'), encode(RECOVERY_KIND.reconcileRequest, { host: 'host-b' }), { timeout: 5000 })).data), reconcileReply);
  t.is(mine.host, 'host-b');
  t.false(mine.volumes.some((x) => x.volumeId === onA.id), 'host-b was told about a volume of host-a');
  await t.throwsAsync(b.request(subjects.reconcile('host-b'), encode(RECOVERY_KIND.reconcileRequest, { host: 'host-a' }), { timeout: 1500 }));
  await waitFor(async () => /reconciliation request not answered: the request names host \\?"host-a\\?" but came on the subject of host \\?"host-b/.test(c.logs()), 10_000, () => 'the gateway did not log the refusal');
});

test.after.always('no process is left behind', noProcessesLeft);
