/**
 * Volume type administration end to end (issue 3): updateVolumeType, volumeType(id|name),
 * extra-spec validation on create and update, the refusal to change the specs of a type in
 * use, and private types with Cinder's type access, on a real cluster. Every bad path
 * asserts its `extensions.code`.
 */
import anyTest, { type TestFn } from 'ava';
import {
  AddVolumeTypeAccessDocument,
  CreateVolumeDocument,
  CreateVolumeTypeDocument,
  NodeDocument,
  RemoveVolumeTypeAccessDocument,
  UpdateVolumeTypeDocument,
  ViewerDocument,
  VolumeDocument,
  VolumeTypeAccessProjectsDocument,
  VolumeTypeDocument,
  VolumeTypesDocument,
  type CreateVolumeInput,
  type CreateVolumeTypeInput,
  type CreateVolumeTypeMutation,
  type FlintDocument,
} from '../../src/client/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { errorCode } from '../helpers/sdk.js';
import { waitForVolume } from '../helpers/wait.js';
import { noProcessesLeft } from '../helpers/processes.js';

interface Ctx {
  cluster: Cluster;
  member: string;
  memberProject: string;
  other: string;
}

type VT = CreateVolumeTypeMutation['createVolumeType'];

const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [{ host: 'host-a', pools: [{ name: 'p', imageFormat: 'qcow2', capacityGiB: 50, capabilities: { tier: 'gold', ssd: true, iops: 5000 } }] }],
  });
  const member = await cluster.token('alpha', 'member');
  const other = await cluster.token('beta', 'member');
  const { viewer } = await cluster.client(member).request(ViewerDocument);
  t.context = { cluster, member, other, memberProject: viewer.projectId };
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

/** A typed document sent with `token` (null: none): the whole answer, its errors returned, not thrown. */
const as = <D, V>(t: { context: Ctx }, token: string | null, doc: FlintDocument<D, V>, variables?: V) => t.context.cluster.client(token).raw(doc, variables);
const admin = <D, V>(t: { context: Ctx }, doc: FlintDocument<D, V>, variables?: V) => as(t, t.context.cluster.adminToken, doc, variables);
const code = errorCode;

async function createType(t: { context: Ctx }, input: CreateVolumeTypeInput): Promise<VT> {
  return (await t.context.cluster.client().request(CreateVolumeTypeDocument, { input })).createVolumeType;
}

async function availableVolume(t: { context: Ctx }, token: string, input: CreateVolumeInput): Promise<{ id: string; volumeType: string | null }> {
  const v = (await t.context.cluster.client(token).request(CreateVolumeDocument, { input })).createVolume.volume;
  const ended = await waitForVolume(t.context.cluster.client(), v.id, (x) => x?.status === 'AVAILABLE' || x?.status === 'ERROR', { what: `volume ${v.id} to be AVAILABLE or ERROR`, timeoutMs: 30_000 });
  if (ended?.status !== 'AVAILABLE') throw new Error(`volume ${v.id} is ${ended?.status}`);
  return v;
}

test('createVolumeType refuses extra specs the CapabilitiesFilter cannot read, with BAD_USER_INPUT', async (t) => {
  for (const extraSpecs of [{ 'capabilities:ssd': '<is>' }, { 'provisioning:type': 'fat' }, { 'capabilities:iops': '>= lots' }, { 'capabilities:a:b': 'x' }, { 'capabilities:tier': 5 }]) {
    const r = await admin(t, CreateVolumeTypeDocument, { input: { name: `bad-${JSON.stringify(extraSpecs).length}`, extraSpecs } });
    t.is(code(r), 'BAD_USER_INPUT', JSON.stringify(extraSpecs));
    t.regex(r.errors![0]!.message, /extraSpecs/);
  }
  const listed = await t.context.cluster.client().request(VolumeTypesDocument);
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
  const flint = t.context.cluster.client(t.context.member);
  const byId = await flint.request(VolumeTypeDocument, { id: vt.id });
  const byName = await flint.request(VolumeTypeDocument, { name: 'lookup' });
  t.deepEqual(byId.volumeType, vt);
  t.deepEqual(byName.volumeType, vt);
  t.is((await t.context.cluster.client().request(VolumeTypeDocument, { name: 'no-such-type' })).volumeType, null);
  t.is(code(await admin(t, VolumeTypeDocument, {})), 'BAD_USER_INPUT');
  t.is(code(await admin(t, VolumeTypeDocument, { id: vt.id, name: 'lookup' })), 'BAD_USER_INPUT');
  t.is(code(await as(t, null, VolumeTypeDocument, { id: vt.id })), 'UNAUTHENTICATED');
});

test('updateVolumeType changes name, description and visibility, bumping the version', async (t) => {
  const vt = await createType(t, { name: 'renamable', extraSpecs: { 'capabilities:tier': 'gold' } });
  const v = await availableVolume(t, t.context.member, { name: 'of-renamable', sizeGiB: 1, volumeType: 'renamable' });
  const r = await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, name: 'renamed', description: 'new words', expectedVersion: 1 } });
  t.falsy(r.errors);
  const updated = r.data!.updateVolumeType;
  t.is(updated.name, 'renamed');
  t.is(updated.description, 'new words');
  t.is(updated.version, 2);
  t.truthy(updated.updatedAt);
  // The volume follows the rename (volumes name their type).
  const vol = await t.context.cluster.client().request(VolumeDocument, { id: v.id });
  t.is(vol.volume?.volumeType, 'renamed');
  // Name, description and visibility may change while volumes use it; unchanged extra specs are no change.
  const again = await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, isPublic: false, extraSpecs: { 'capabilities:tier': 'gold' } } });
  t.falsy(again.errors);
  t.false(again.data!.updateVolumeType.isPublic);
  t.is(again.data!.updateVolumeType.version, 3);
});

test('updateVolumeType refuses new extra specs while volumes use the type, with INVALID_STATE naming how many', async (t) => {
  const vt = await createType(t, { name: 'in-use', extraSpecs: { 'capabilities:tier': 'gold' } });
  await availableVolume(t, t.context.member, { name: 'user-1', sizeGiB: 1, volumeType: 'in-use' });
  await availableVolume(t, t.context.member, { name: 'user-2', sizeGiB: 1, volumeType: 'in-use' });
  const r = await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, extraSpecs: { 'capabilities:tier': 'silver' } } });
  t.is(code(r), 'INVALID_STATE');
  t.regex(r.errors![0]!.message, /used by 2 volumes/);
  t.regex(r.errors![0]!.message, /retype/);
  const still = (await t.context.cluster.client().request(VolumeTypeDocument, { id: vt.id })).volumeType!;
  t.deepEqual(still.extraSpecs, { 'capabilities:tier': 'gold' });
  t.is(still.version, 1);
  // A type no volume uses may change its specs.
  const free = await createType(t, { name: 'unused', extraSpecs: { 'capabilities:tier': 'gold' } });
  const ok = await admin(t, UpdateVolumeTypeDocument, { input: { id: free.id, extraSpecs: { 'capabilities:tier': '<or> gold <or> silver' } } });
  t.falsy(ok.errors);
  t.deepEqual(ok.data!.updateVolumeType.extraSpecs, { 'capabilities:tier': '<or> gold <or> silver' });
});

test('updateVolumeType bad paths: each answers its code and changes nothing', async (t) => {
  const vt = await createType(t, { name: 'guarded' });
  await createType(t, { name: 'taken' });
  t.is(code(await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, name: '  ' } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, extraSpecs: { 'capabilities:x': '<or>' } } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, extraSpecs: { 'provisioning:type': 'thickest' } } })), 'BAD_USER_INPUT');
  t.is(code(await admin(t, UpdateVolumeTypeDocument, { input: { id: '00000000-0000-0000-0000-000000000000', name: 'x' } })), 'NOT_FOUND');
  t.is(code(await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, name: 'taken' } })), 'CONFLICT');
  t.is(code(await admin(t, UpdateVolumeTypeDocument, { input: { id: vt.id, name: 'x', expectedVersion: 7 } })), 'CONFLICT');
  t.is(code(await as(t, t.context.member, UpdateVolumeTypeDocument, { input: { id: vt.id, name: 'x' } })), 'FORBIDDEN');
  const still = (await t.context.cluster.client().request(VolumeTypeDocument, { id: vt.id })).volumeType!;
  t.is(still.name, 'guarded');
  t.is(still.version, 1);
});

test('a private type is hidden from other projects until granted, and NOT_FOUND to createVolume', async (t) => {
  const vt = await createType(t, { name: 'secret', isPublic: false, extraSpecs: { 'capabilities:tier': 'gold' } });
  const names = async (token: string) => (await t.context.cluster.client(token).request(VolumeTypesDocument)).volumeTypes.map((v) => v.name);
  t.false((await names(t.context.member)).includes('secret'));
  t.true((await names(t.context.cluster.adminToken)).includes('secret'));
  const member = t.context.cluster.client(t.context.member);
  t.is((await member.request(VolumeTypeDocument, { name: 'secret' })).volumeType, null);
  t.is((await member.request(NodeDocument, { id: vt.id })).node, null);
  const refused = await as(t, t.context.member, CreateVolumeDocument, { input: { name: 'sneaky', sizeGiB: 1, volumeType: 'secret' } });
  t.is(code(refused), 'NOT_FOUND');
  // An unknown type is answered the same way, so a private type's name cannot be probed.
  t.is(code(await as(t, t.context.member, CreateVolumeDocument, { input: { name: 'nope', sizeGiB: 1, volumeType: 'no-such-type' } })), 'NOT_FOUND');

  const granted = await admin(t, AddVolumeTypeAccessDocument, { input: { volumeTypeId: vt.id, projectId: t.context.memberProject } });
  t.falsy(granted.errors);
  t.deepEqual(granted.data!.addVolumeTypeAccess.accessProjects, [t.context.memberProject]);
  // Granting twice changes nothing.
  const twice = await admin(t, AddVolumeTypeAccessDocument, { input: { volumeTypeId: vt.id, projectId: t.context.memberProject } });
  t.deepEqual(twice.data?.addVolumeTypeAccess.accessProjects, [t.context.memberProject]);
  t.true((await names(t.context.member)).includes('secret'));
  t.false((await names(t.context.other)).includes('secret'), 'the other project still does not see it');
  const v = await availableVolume(t, t.context.member, { name: 'allowed', sizeGiB: 1, volumeType: 'secret' });
  t.is(v.volumeType, 'secret');
  t.is(code(await as(t, t.context.other, CreateVolumeDocument, { input: { name: 'other', sizeGiB: 1, volumeType: 'secret' } })), 'NOT_FOUND');
  t.is(code(await as(t, t.context.member, VolumeTypeAccessProjectsDocument, { id: vt.id })), 'FORBIDDEN');

  const revoked = await admin(t, RemoveVolumeTypeAccessDocument, { input: { volumeTypeId: vt.id, projectId: t.context.memberProject } });
  t.deepEqual(revoked.data?.removeVolumeTypeAccess.accessProjects, []);
  t.false((await names(t.context.member)).includes('secret'));
  t.is(code(await as(t, t.context.member, CreateVolumeDocument, { input: { name: 'late', sizeGiB: 1, volumeType: 'secret' } })), 'NOT_FOUND');
});

test('type access bad paths answer their codes', async (t) => {
  const priv = await createType(t, { name: 'private-2', isPublic: false });
  const pub = await createType(t, { name: 'public-2' });
  const input = (volumeTypeId: string, projectId = t.context.memberProject) => ({ input: { volumeTypeId, projectId } });
  t.is(code(await admin(t, AddVolumeTypeAccessDocument, input(pub.id))), 'INVALID_STATE');
  t.is(code(await admin(t, AddVolumeTypeAccessDocument, input('00000000-0000-0000-0000-000000000000'))), 'NOT_FOUND');
  t.is(code(await admin(t, AddVolumeTypeAccessDocument, input(priv.id, '00000000-0000-0000-0000-000000000000'))), 'NOT_FOUND');
  t.is(code(await admin(t, RemoveVolumeTypeAccessDocument, input(priv.id))), 'NOT_FOUND', 'the project had no access');
  t.is(code(await admin(t, RemoveVolumeTypeAccessDocument, input('00000000-0000-0000-0000-000000000000'))), 'NOT_FOUND');
  t.is(code(await as(t, t.context.member, AddVolumeTypeAccessDocument, input(priv.id))), 'FORBIDDEN');
  t.is(code(await as(t, t.context.member, RemoveVolumeTypeAccessDocument, input(priv.id))), 'FORBIDDEN');
  const after = await t.context.cluster.client().request(VolumeTypeAccessProjectsDocument, { id: priv.id });
  t.deepEqual(after.volumeType?.accessProjects, []);
});

test.after.always('no process is left behind', noProcessesLeft);
