/**
 * Volume type administration end to end (issue 3): updateVolumeType, volumeType(id|name),
 * extra-spec validation on create and update, the refusal to change the specs of a type in
 * use, and private types with Cinder's type access, on a real cluster. Every bad path
 * asserts its `extensions.code`.
 */
import anyTest, { type TestFn } from 'ava';
import { gql, startCluster, waitFor, type Cluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
  memberProject: string;
  other: string;
}

interface VT {
  id: string;
  name: string;
  description: string | null;
  extraSpecs: Record<string, string>;
  isPublic: boolean;
  version: number;
  updatedAt: string | null;
}

type Res = Awaited<ReturnType<typeof gql>>;
const test = anyTest as TestFn<Ctx>;
const FIELDS = 'id name description extraSpecs isPublic version updatedAt';
const CREATE_TYPE = `mutation($input: CreateVolumeTypeInput!) { createVolumeType(input: $input) { ${FIELDS} } }`;
const UPDATE_TYPE = `mutation($input: UpdateVolumeTypeInput!) { updateVolumeType(input: $input) { ${FIELDS} } }`;
const GET_TYPE = `query($id: ID, $name: String) { volumeType(id: $id, name: $name) { ${FIELDS} } }`;
const LIST_TYPES = 'query { volumeTypes { name } }';
const ADD_ACCESS = 'mutation($input: VolumeTypeAccessInput!) { addVolumeTypeAccess(input: $input) { id name accessProjects } }';
const REMOVE_ACCESS = 'mutation($input: VolumeTypeAccessInput!) { removeVolumeTypeAccess(input: $input) { id name accessProjects } }';
const CREATE_VOLUME = 'mutation($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id status volumeType } } }';

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [{ host: 'host-a', pools: [{ name: 'p', imageFormat: 'qcow2', capacityGiB: 50, capabilities: { tier: 'gold', ssd: true, iops: 5000 } }] }],
  });
  const member = await cluster.token('alpha', 'member');
  const other = await cluster.token('beta', 'member');
  const viewer = await gql(cluster.url, member, 'query { viewer { projectId } }');
  t.context = { cluster, member, other, memberProject: (viewer.data as { viewer: { projectId: string } }).viewer.projectId };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const as = (t: { context: Ctx }, token: string, query: string, variables?: unknown): Promise<Res> => gql(t.context.cluster.url, token, query, variables);
const admin = (t: { context: Ctx }, query: string, variables?: unknown): Promise<Res> => as(t, t.context.cluster.adminToken, query, variables);
const code = (r: Res): string | undefined => r.errors?.[0]?.extensions?.code;

async function createType(t: { context: Ctx }, input: Record<string, unknown>): Promise<VT> {
  const r = await admin(t, CREATE_TYPE, { input });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return (r.data as { createVolumeType: VT }).createVolumeType;
}

async function availableVolume(t: { context: Ctx }, token: string, input: Record<string, unknown>): Promise<{ id: string; volumeType: string }> {
  const r = await as(t, token, CREATE_VOLUME, { input });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  const v = (r.data as { createVolume: { volume: { id: string; volumeType: string } } }).createVolume.volume;
  let status = '';
  await waitFor(
    async () => {
      status = ((await admin(t, 'query($id: ID!) { volume(id: $id) { status } }', { id: v.id })).data as { volume: { status: string } }).volume.status;
      return status === 'AVAILABLE' || status === 'ERROR';
    },
    30_000,
    () => `volume ${v.id} stayed ${status}`,
  );
  if (status !== 'AVAILABLE') throw new Error(`volume ${v.id} is ${status}`);
  return v;
}

test('createVolumeType refuses extra specs the CapabilitiesFilter cannot read, with BAD_USER_INPUT', async (t) => {
  for (const extraSpecs of [{ 'capabilities:ssd': '<is>' }, { 'provisioning:type': 'fat' }, { 'capabilities:iops': '>= lots' }, { 'capabilities:a:b': 'x' }, { 'capabilities:tier': 5 }]) {
    const r = await admin(t, CREATE_TYPE, { input: { name: `bad-${JSON.stringify(extraSpecs).length}`, extraSpecs } });
    t.is(code(r), 'BAD_USER_INPUT', JSON.stringify(extraSpecs));
    t.regex(r.errors![0]!.message, /extraSpecs/);
  }
  const listed = (await admin(t, LIST_TYPES)).data as { volumeTypes: Array<{ name: string }> };
  t.false(listed.volumeTypes.some((v) => v.name.startsWith('bad-')), 'nothing half-made');
  // The operators themselves work end to end: a type with them places a volume.
  await createType(t, { name: 'ops', extraSpecs: { 'capabilities:ssd': '<is> True', 'capabilities:iops': '>= 1000', 'capabilities:tier': '<in> gol', 'provisioning:type': 'thin' } });
  const v = await availableVolume(t, t.context.member, { name: 'ops-vol', sizeGiB: 1, volumeType: 'ops' });
  t.is(v.volumeType, 'ops');
});

test('volumeType finds a type by id or by name, and wants exactly one of them', async (t) => {
  const vt = await createType(t, { name: 'lookup', description: 'find me' });
  t.is(vt.version, 1);
  t.is(vt.updatedAt, null);
  const byId = (await as(t, t.context.member, GET_TYPE, { id: vt.id })).data as { volumeType: VT };
  const byName = (await as(t, t.context.member, GET_TYPE, { name: 'lookup' })).data as { volumeType: VT };
  t.deepEqual(byId.volumeType, vt);
  t.deepEqual(byName.volumeType, vt);
  t.is(((await admin(t, GET_TYPE, { name: 'no-such-type' })).data as { volumeType: VT | null }).volumeType, null);
  t.is(code(await admin(t, GET_TYPE, {})), 'BAD_USER_INPUT');
  t.is(code(await admin(t, GET_TYPE, { id: vt.id, name: 'lookup' })), 'BAD_USER_INPUT');
  t.is(code(await gql(t.context.cluster.url, undefined, GET_TYPE, { id: vt.id })), 'UNAUTHENTICATED');
});

test('updateVolumeType changes name, description and visibility, bumping the version', async (t) => {
  const vt = await createType(t, { name: 'renamable', extraSpecs: { 'capabilities:tier': 'gold' } });
  const v = await availableVolume(t, t.context.member, { name: 'of-renamable', sizeGiB: 1, volumeType: 'renamable' });
  const r = await admin(t, UPDATE_TYPE, { input: { id: vt.id, name: 'renamed', description: 'new words', expectedVersion: 1 } });
  t.falsy(r.errors);
  const updated = (r.data as { updateVolumeType: VT }).updateVolumeType;
  t.is(updated.name, 'renamed');
  t.is(updated.description, 'new words');
  t.is(updated.version, 2);
  t.truthy(updated.updatedAt);
  // The volume follows the rename (volumes name their type).
  const vol = (await admin(t, 'query($id: ID!) { volume(id: $id) { volumeType } }', { id: v.id })).data as { volume: { volumeType: string } };
  t.is(vol.volume.volumeType, 'renamed');
  // Name, description and visibility may change while volumes use it; unchanged extra specs are no change.
  const again = await admin(t, UPDATE_TYPE, { input: { id: vt.id, isPublic: false, extraSpecs: { 'capabilities:tier': 'gold' } } });
  t.falsy(again.errors);
  t.false((again.data as { updateVolumeType: VT }).updateVolumeType.isPublic);
  t.is((again.data as { updateVolumeType: VT }).updateVolumeType.version, 3);
});

test('updateVolumeType refuses new extra specs while volumes use the type, with INVALID_STATE naming how many', async (t) => {
  const vt = await createType(t, { name: 'in-use', extraSpecs: { 'capabilities:tier': 'gold' } });
  await availableVolume(t, t.context.member, { name: 'user-1', sizeGiB: 1, volumeType: 'in-use' });
  await availableVolume(t, t.context.member, { name: 'user-2', sizeGiB: 1, volumeType: 'in-use' });
  const r = await admin(t, UPDATE_TYPE, { input: { id: vt.id, extraSpecs: { 'capabilities:tier': 'silver' } } });
  t.is(code(r), 'INVALID_STATE');
  t.regex(r.errors![0]!.message, /used by 2 volumes/);
  t.regex(r.errors![0]!.message, /retype/);
  const still = (await admin(t, GET_TYPE, { id: vt.id })).data as { volumeType: VT };
  t.deepEqual(still.volumeType.extraSpecs, { 'capabilities:tier': 'gold' });
  t.is(still.volumeType.version, 1);
  // A type no volume uses may change its specs.
  const free = await createType(t, { name: 'unused', extraSpecs: { 'capabilities:tier': 'gold' } });
  const ok = await admin(t, UPDATE_TYPE, { input: { id: free.id, extraSpecs: { 'capabilities:tier': '<or> gold <or> silver' } } });
  t.falsy(ok.errors);
  t.deepEqual((ok.data as { updateVolumeType: VT }).updateVolumeType.extraSpecs, { 'capabilities:tier': '<or> gold <or> silver' });
});

test('updateVolumeType bad paths: each answers its code and changes nothing', async (t) => {
  const vt = await createType(t, { name: 'guarded' });
  await createType(t, { name: 'taken' });
  t.is(code(await admin(t, UPDATE_TYPE, { input: { id: vt.id } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UPDATE_TYPE, { input: { id: vt.id, name: '  ' } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UPDATE_TYPE, { input: { id: vt.id, extraSpecs: { 'capabilities:x': '<or>' } } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UPDATE_TYPE, { input: { id: vt.id, extraSpecs: { 'provisioning:type': 'thickest' } } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UPDATE_TYPE, { input: { id: '00000000-0000-0000-0000-000000000000', name: 'x' } })), 'NOT_FOUND');
  t.is(code(await admin(t, UPDATE_TYPE, { input: { id: vt.id, name: 'taken' } })), 'CONFLICT');
  t.is(code(await admin(t, UPDATE_TYPE, { input: { id: vt.id, name: 'x', expectedVersion: 7 } })), 'CONFLICT');
  t.is(code(await as(t, t.context.member, UPDATE_TYPE, { input: { id: vt.id, name: 'x' } })), 'FORBIDDEN');
  const still = (await admin(t, GET_TYPE, { id: vt.id })).data as { volumeType: VT };
  t.is(still.volumeType.name, 'guarded');
  t.is(still.volumeType.version, 1);
});

test('a private type is hidden from other projects until granted, and NOT_FOUND to createVolume', async (t) => {
  const vt = await createType(t, { name: 'secret', isPublic: false, extraSpecs: { 'capabilities:tier': 'gold' } });
  const names = async (token: string) => ((await as(t, token, LIST_TYPES)).data as { volumeTypes: Array<{ name: string }> }).volumeTypes.map((v) => v.name);
  t.false((await names(t.context.member)).includes('secret'));
  t.true((await names(t.context.cluster.adminToken)).includes('secret'));
  t.is(((await as(t, t.context.member, GET_TYPE, { name: 'secret' })).data as { volumeType: VT | null }).volumeType, null);
  t.is(((await as(t, t.context.member, 'query($id: ID!) { node(id: $id) { id } }', { id: vt.id })).data as { node: unknown }).node, null);
  const refused = await as(t, t.context.member, CREATE_VOLUME, { input: { name: 'sneaky', sizeGiB: 1, volumeType: 'secret' } });
  t.is(code(refused), 'NOT_FOUND');
  // An unknown type is answered the same way, so a private type's name cannot be probed.
  t.is(code(await as(t, t.context.member, CREATE_VOLUME, { input: { name: 'nope', sizeGiB: 1, volumeType: 'no-such-type' } })), 'NOT_FOUND');

  const granted = await admin(t, ADD_ACCESS, { input: { volumeTypeId: vt.id, projectId: t.context.memberProject } });
  t.falsy(granted.errors);
  t.deepEqual((granted.data as { addVolumeTypeAccess: { accessProjects: string[] } }).addVolumeTypeAccess.accessProjects, [t.context.memberProject]);
  // Granting twice changes nothing.
  const twice = await admin(t, ADD_ACCESS, { input: { volumeTypeId: vt.id, projectId: t.context.memberProject } });
  t.deepEqual((twice.data as { addVolumeTypeAccess: { accessProjects: string[] } }).addVolumeTypeAccess.accessProjects, [t.context.memberProject]);
  t.true((await names(t.context.member)).includes('secret'));
  t.false((await names(t.context.other)).includes('secret'), 'the other project still does not see it');
  const v = await availableVolume(t, t.context.member, { name: 'allowed', sizeGiB: 1, volumeType: 'secret' });
  t.is(v.volumeType, 'secret');
  t.is(code(await as(t, t.context.other, CREATE_VOLUME, { input: { name: 'other', sizeGiB: 1, volumeType: 'secret' } })), 'NOT_FOUND');
  t.is(code(await as(t, t.context.member, 'query($id: ID!) { volumeType(id: $id) { accessProjects } }', { id: vt.id })), 'FORBIDDEN');

  const revoked = await admin(t, REMOVE_ACCESS, { input: { volumeTypeId: vt.id, projectId: t.context.memberProject } });
  t.deepEqual((revoked.data as { removeVolumeTypeAccess: { accessProjects: string[] } }).removeVolumeTypeAccess.accessProjects, []);
  t.false((await names(t.context.member)).includes('secret'));
  t.is(code(await as(t, t.context.member, CREATE_VOLUME, { input: { name: 'late', sizeGiB: 1, volumeType: 'secret' } })), 'NOT_FOUND');
});

test('type access bad paths answer their codes', async (t) => {
  const priv = await createType(t, { name: 'private-2', isPublic: false });
  const pub = await createType(t, { name: 'public-2' });
  const input = (volumeTypeId: string, projectId = t.context.memberProject) => ({ input: { volumeTypeId, projectId } });
  t.is(code(await admin(t, ADD_ACCESS, input(pub.id))), 'INVALID_STATE');
  t.is(code(await admin(t, ADD_ACCESS, input('00000000-0000-0000-0000-000000000000'))), 'NOT_FOUND');
  t.is(code(await admin(t, ADD_ACCESS, input(priv.id, '00000000-0000-0000-0000-000000000000'))), 'NOT_FOUND');
  t.is(code(await admin(t, REMOVE_ACCESS, input(priv.id))), 'NOT_FOUND', 'the project had no access');
  t.is(code(await admin(t, REMOVE_ACCESS, input('00000000-0000-0000-0000-000000000000'))), 'NOT_FOUND');
  t.is(code(await as(t, t.context.member, ADD_ACCESS, input(priv.id))), 'FORBIDDEN');
  t.is(code(await as(t, t.context.member, REMOVE_ACCESS, input(priv.id))), 'FORBIDDEN');
  const after = (await admin(t, 'query($id: ID!) { volumeType(id: $id) { accessProjects } }', { id: priv.id })).data as { volumeType: { accessProjects: string[] } };
  t.deepEqual(after.volumeType.accessProjects, []);
});

test.after.always('no process is left behind', noProcessesLeft);
