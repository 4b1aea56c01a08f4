/**
 * Flint's API against the contracts of the tools that drive it (issue 16): Terraform's
 * plugin framework (Create/Read/Update/Delete/ImportState), Crossplane's ExternalClient
 * (Observe/Create/Update/Delete) and CSI's controller service (CreateVolume, DeleteVolume,
 * ControllerPublishVolume, ControllerExpandVolume). One test per rule, named by the contract
 * and the rule, over the real API of one real cluster (nats-server, SQLite, gateway,
 * scheduler, two agents); tests/conformance/README.md maps each rule to its test.
 */
import { randomUUID } from 'node:crypto';
import anyTest, { type TestFn } from 'ava';
import { OperationChangedDocument, VolumeChangedDocument, VolumeEventsDocument, type FlintApiError } from '../../src/client/index.js';
import { ERROR_CODES } from '../../src/domain/errors.js';
import { startCluster } from '../helpers/cluster.js';
import { noProcessesLeft } from '../helpers/processes.js';
import { EventLog } from '../helpers/wait.js';
import {
  ATTACHMENT,
  OPERATION,
  VOLUME,
  availableVolume,
  codeOf,
  createAttachment,
  createBackup,
  createSnapshot,
  createVolume,
  del,
  deleted,
  gq,
  ok,
  readVolume,
  resourceSchema,
  seenErrors,
  settle,
  succeeded,
  withoutId,
  type Answer,
  type Att,
  type Ctx,
  type Op,
  type T,
  type Vol,
} from './harness.js';

const test = anyTest as TestFn<Ctx>;

/** host-b's pool is the only one of tier bronze: volumes of type `bronze` are there, and stopping host-b holds their work. */
const SLOW_HOST = 'host-b';

test.before(async (t) => {
  const cluster = await startCluster({
    database: 'sqlite',
    agents: [
      { host: 'host-a', pools: [{ name: 'fast', imageFormat: 'qcow2', capacityGiB: 200, capabilities: { tier: 'gold' } }] },
      { host: SLOW_HOST, pools: [{ name: 'slow', imageFormat: 'qcow2', capacityGiB: 200, capabilities: { tier: 'bronze' } }] },
    ],
  });
  t.context = { cluster, admin: cluster.adminToken, alpha: await cluster.token('alpha', 'member'), beta: await cluster.token('beta', 'member') };
  for (const [name, tier] of [['gold', 'gold'], ['gold-plus', 'gold'], ['bronze', 'bronze'], ['platinum', 'platinum']]) {
    await ok(t as unknown as T, cluster.adminToken, `mutation ($input: CreateVolumeTypeInput!) { createVolumeType(input: $input) { id } }`, {
      input: { name, extraSpecs: { 'capabilities:tier': tier } },
    });
  }
});

test.after.always(async (t) => {
  await t.context.cluster?.stop();
});

test.afterEach.always((t) => {
  if (!t.passed && t.context.cluster) t.log(t.context.cluster.logs());
});

const statusOf = (r: { resource: { status: string } | string }) => (typeof r.resource === 'string' ? r.resource : r.resource.status);

// ---------------------------------------------------------------------------------------
// Deletes and reads of what is gone
// ---------------------------------------------------------------------------------------

test.serial('Terraform Read / Crossplane Observe: a deleted volume, snapshot or backup reads as gone (null, no error), not as a failure', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'read-gone' });
  const s = (await createSnapshot(t, alpha, { volumeId: v.id, name: 'read-gone' })).data!.createSnapshot;
  await succeeded(t, alpha, s.operation.id);
  const b = (await createBackup(t, alpha, { volumeId: v.id, name: 'read-gone' })).data!.createBackup;
  await succeeded(t, alpha, b.operation.id);
  await succeeded(t, alpha, (await deleted(t, alpha, 'backup', b.backup.id)).operation!.id);
  await succeeded(t, alpha, (await deleted(t, alpha, 'snapshot', s.snapshot.id)).operation!.id);
  await succeeded(t, alpha, (await deleted(t, alpha, 'volume', v.id)).operation!.id);
  const r = await gq<Record<string, unknown>>(
    t,
    alpha,
    `query ($v: ID!, $s: ID!, $b: ID!) { volume(id: $v) { id status } snapshot(id: $s) { id status } backup(id: $b) { id status } vNode: node(id: $v) { id } sNode: node(id: $s) { id } bNode: node(id: $b) { id } }`,
    { v: v.id, s: s.snapshot.id, b: b.backup.id },
  );
  t.deepEqual({ data: r.data, errors: r.errors }, { data: { volume: null, snapshot: null, backup: null, vNode: null, sNode: null, bNode: null }, errors: undefined });
});

test.serial('CSI DeleteVolume / Terraform Delete / Crossplane Delete: deleting a resource that is already gone succeeds (alreadyDeleted), for volumes, snapshots, attachments, backups, transfers and volume types', async (t) => {
  const { alpha, admin } = t.context;
  const v = await availableVolume(t, alpha, { name: 'gone-twice' });
  const results: Record<string, unknown> = {};
  // An attachment (a reservation: DETACHED at once when deleted).
  const a = (await createAttachment(t, alpha, { volumeId: v.id, instanceId: 'vm-gone' })).data!.createAttachment;
  const aFirst = await deleted(t, alpha, 'attachment', a.attachment.id);
  if (aFirst.operation) await settle(t, alpha, aFirst.operation.id);
  const aAgain = await deleted(t, alpha, 'attachment', a.attachment.id);
  results.attachment = { alreadyDeleted: aAgain.alreadyDeleted, status: statusOf(aAgain) };
  // Made, deleted, deleted again: the second answer, and whether it names the first delete's operation.
  const deleteTwice = async (kind: 'snapshot' | 'backup', id: string, made: Op) => {
    await succeeded(t, alpha, made.id);
    const first = await deleted(t, alpha, kind, id);
    await succeeded(t, alpha, first.operation!.id);
    const again = await deleted(t, alpha, kind, id);
    return { alreadyDeleted: again.alreadyDeleted, status: statusOf(again), operation: again.operation?.id === first.operation!.id };
  };
  const s = (await createSnapshot(t, alpha, { volumeId: v.id, name: 'gone' })).data!.createSnapshot;
  results.snapshot = await deleteTwice('snapshot', s.snapshot.id, s.operation);
  const b = (await createBackup(t, alpha, { volumeId: v.id, name: 'gone' })).data!.createBackup;
  results.backup = await deleteTwice('backup', b.backup.id, b.operation);
  // A transfer (cancelled: it has ended).
  const tr = await ok<{ createVolumeTransfer: { transfer: { id: string } } }>(t, alpha, `mutation ($input: CreateVolumeTransferInput!) { createVolumeTransfer(input: $input) { transfer { id } } }`, {
    input: { volumeId: v.id, name: 'gone' },
  });
  const trId = tr.createVolumeTransfer.transfer.id;
  const trFirst = await deleted(t, alpha, 'transfer', trId);
  t.false(trFirst.alreadyDeleted);
  const trAgain = await deleted(t, alpha, 'transfer', trId);
  results.transfer = { alreadyDeleted: trAgain.alreadyDeleted, status: statusOf(trAgain) };
  // A volume type.
  const vt = await ok<{ createVolumeType: { id: string } }>(t, admin, `mutation { createVolumeType(input: { name: "short-lived" }) { id } }`);
  const vtFirst = await deleted(t, admin, 'volumeType', vt.createVolumeType.id);
  t.false(vtFirst.alreadyDeleted);
  const vtAgain = await deleted(t, admin, 'volumeType', vt.createVolumeType.id);
  results.volumeType = { alreadyDeleted: vtAgain.alreadyDeleted, volumeTypeId: vtAgain.resource };
  // The volume itself.
  const vFirst = await deleted(t, alpha, 'volume', v.id);
  await succeeded(t, alpha, vFirst.operation!.id);
  const vAgain = await deleted(t, alpha, 'volume', v.id);
  results.volume = { alreadyDeleted: vAgain.alreadyDeleted, status: statusOf(vAgain), operation: vAgain.operation?.id === vFirst.operation!.id };

  t.deepEqual(results, {
    attachment: { alreadyDeleted: true, status: 'DETACHED' },
    snapshot: { alreadyDeleted: true, status: 'DELETED', operation: true },
    backup: { alreadyDeleted: true, status: 'DELETED', operation: true },
    transfer: { alreadyDeleted: true, status: 'CANCELLED' },
    volumeType: { alreadyDeleted: true, volumeTypeId: vt.createVolumeType.id },
    volume: { alreadyDeleted: true, status: 'DELETED', operation: true },
  });
});

test.serial('CSI DeleteVolume / Crossplane Delete: a delete of a resource being deleted answers with the delete under way (volumes, snapshots, backups, attachments)', async (t) => {
  const { alpha, cluster } = t.context;
  const doomed = await availableVolume(t, alpha, { name: 'doomed', volumeType: 'bronze' });
  const holder = await availableVolume(t, alpha, { name: 'holder', volumeType: 'bronze' });
  const b = (await createBackup(t, alpha, { volumeId: holder.id, name: 'doomed' })).data!.createBackup;
  await succeeded(t, alpha, b.operation.id);
  const s = (await createSnapshot(t, alpha, { volumeId: holder.id, name: 'doomed' })).data!.createSnapshot;
  await succeeded(t, alpha, s.operation.id);
  const a = (await createAttachment(t, alpha, { volumeId: holder.id, instanceId: 'vm-doomed', targetKind: 'NBD', connector: { host: 'node-doomed' } })).data!.createAttachment;
  await succeeded(t, alpha, a.operation.id);

  await cluster.stopAgent(SLOW_HOST);
  const ops: string[] = [];
  try {
    const targets = [
      ['backup', b.backup.id, 'DELETING'],
      ['snapshot', s.snapshot.id, 'DELETING'],
      ['volume', doomed.id, 'DELETING'],
      ['attachment', a.attachment.id, 'DETACHING'],
    ] as const;
    const seen: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const [kind, id, status] of targets) {
      const first = await deleted(t, alpha, kind, id);
      const again = await deleted(t, alpha, kind, id);
      if (first.operation) ops.push(first.operation.id);
      seen[kind] = {
        first: { alreadyDeleted: first.alreadyDeleted, status: statusOf(first), operation: first.operation?.status },
        again: { alreadyDeleted: again.alreadyDeleted, status: statusOf(again), sameOperation: again.operation?.id === first.operation?.id },
      };
      want[kind] = { first: { alreadyDeleted: false, status, operation: 'PENDING' }, again: { alreadyDeleted: false, status, sameOperation: true } };
    }
    t.deepEqual(seen, want);
  } finally {
    cluster.startAgent(SLOW_HOST);
  }
  for (const id of ops) t.is((await settle(t, alpha, id)).status, 'SUCCEEDED');
});

test.serial('CSI DeleteVolume / Terraform Delete: a delete of a CREATING volume is queued (operation PENDING) and completes once the create ends', async (t) => {
  const { alpha, cluster } = t.context;
  await cluster.stopAgent(SLOW_HOST);
  let queued: Op | null = null;
  let volumeId = '';
  try {
    const made = (await createVolume(t, alpha, { name: 'creating', sizeGiB: 1, volumeType: 'bronze' })).data!.createVolume;
    volumeId = made.volume.id;
    const r = await deleted(t, alpha, 'volume', volumeId);
    queued = r.operation;
    t.deepEqual(
      { alreadyDeleted: r.alreadyDeleted, status: statusOf(r), kind: r.operation?.kind, operation: r.operation?.status },
      { alreadyDeleted: false, status: 'CREATING', kind: 'delete_volume', operation: 'PENDING' },
    );
    // Asked again (a client that timed out): the same queued delete.
    const again = await deleted(t, alpha, 'volume', volumeId);
    t.deepEqual({ alreadyDeleted: again.alreadyDeleted, status: statusOf(again), operation: again.operation?.id }, { alreadyDeleted: false, status: 'CREATING', operation: r.operation?.id });
  } finally {
    cluster.startAgent(SLOW_HOST);
  }
  t.is((await settle(t, alpha, queued!.id)).status, 'SUCCEEDED');
  t.is(await readVolume(t, alpha, volumeId), null);
});

test.serial('Terraform Read / CSI: another project\'s resource is NOT_FOUND exactly as an unknown id is (volumes, snapshots, backups, attachments, transfers)', async (t) => {
  const { alpha, beta } = t.context;
  const v = await availableVolume(t, alpha, { name: 'private' });
  const s = (await createSnapshot(t, alpha, { volumeId: v.id, name: 'private' })).data!.createSnapshot;
  await succeeded(t, alpha, s.operation.id);
  const b = (await createBackup(t, alpha, { volumeId: v.id, name: 'private' })).data!.createBackup;
  await succeeded(t, alpha, b.operation.id);
  const a = (await createAttachment(t, alpha, { volumeId: v.id, instanceId: 'vm-private' })).data!.createAttachment;
  const offered = await availableVolume(t, alpha, { name: 'offered' });
  const tr = await ok<{ createVolumeTransfer: { transfer: { id: string } } }>(t, alpha, `mutation ($input: CreateVolumeTransferInput!) { createVolumeTransfer(input: $input) { transfer { id } } }`, {
    input: { volumeId: offered.id },
  });
  const foreign = { volume: v.id, snapshot: s.snapshot.id, backup: b.backup.id, attachment: a.attachment.id, transfer: tr.createVolumeTransfer.transfer.id } as const;
  const seen: Record<string, unknown> = {};
  const want: Record<string, unknown> = {};
  for (const [kind, id] of Object.entries(foreign) as Array<[keyof typeof foreign, string]>) {
    const unknownId = randomUUID();
    const theirs = await del(t, beta, kind, id);
    const unknown = await del(t, beta, kind, unknownId);
    seen[kind] = { code: codeOf(theirs), error: withoutId(theirs.errors?.[0], id) };
    want[kind] = { code: 'NOT_FOUND', error: withoutId(unknown.errors?.[0], unknownId) };
  }
  // Reads: null both ways.
  for (const kind of ['volume', 'snapshot', 'backup', 'attachment'] as const) {
    const r = await gq<Record<string, unknown>>(t, beta, `query ($a: ID!, $b: ID!) { theirs: ${kind}(id: $a) { id } unknown: ${kind}(id: $b) { id } }`, { a: foreign[kind], b: randomUUID() });
    seen[`read ${kind}`] = r.data;
    want[`read ${kind}`] = { theirs: null, unknown: null };
  }
  t.deepEqual(seen, want);
  // Nothing of alpha's was touched.
  t.is((await readVolume(t, alpha, v.id))?.status, 'RESERVED');
});

test.serial('Terraform / CSI: every mutation and subscription on another project\'s volume is NOT_FOUND exactly as on an unknown id', async (t) => {
  const { alpha, beta, cluster } = t.context;
  const v = await availableVolume(t, alpha, { name: 'foreign-target' });
  const calls: Record<string, [string, (id: string) => Record<string, unknown>]> = {
    updateVolume: [`mutation ($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { id } } }`, (id) => ({ input: { id, name: 'mine' } })],
    extendVolume: [`mutation ($input: ExtendVolumeInput!) { extendVolume(input: $input) { volume { id } } }`, (id) => ({ input: { id, newSizeGiB: 5 } })],
    retypeVolume: [`mutation ($input: RetypeVolumeInput!) { retypeVolume(input: $input) { volume { id } } }`, (id) => ({ input: { id, volumeType: 'gold' } })],
    createSnapshot: [`mutation ($input: CreateSnapshotInput!) { createSnapshot(input: $input) { snapshot { id } } }`, (id) => ({ input: { volumeId: id, name: 'mine' } })],
    createBackup: [`mutation ($input: CreateBackupInput!) { createBackup(input: $input) { backup { id } } }`, (id) => ({ input: { volumeId: id } })],
    createAttachment: [`mutation ($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { id } } }`, (id) => ({ input: { volumeId: id, instanceId: 'vm-mine' } })],
    cloneVolume: [`mutation ($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } } }`, (id) => ({ input: { name: 'mine', sourceVolumeId: id } })],
    createVolumeTransfer: [`mutation ($input: CreateVolumeTransferInput!) { createVolumeTransfer(input: $input) { transfer { id } } }`, (id) => ({ input: { volumeId: id } })],
  };
  const seen: Record<string, unknown> = {};
  const want: Record<string, unknown> = {};
  for (const [name, [query, vars]] of Object.entries(calls)) {
    const unknownId = randomUUID();
    const theirs = await gq(t, beta, query, vars(v.id));
    const unknown = await gq(t, beta, query, vars(unknownId));
    seen[name] = { code: codeOf(theirs), error: withoutId(theirs.errors?.[0], v.id) };
    want[name] = { code: 'NOT_FOUND', error: withoutId(unknown.errors?.[0], unknownId) };
  }
  const subError = async (id: string) => {
    const log = EventLog.of(cluster.client(beta).subscribe(VolumeChangedDocument, { id }), `volumeChanged of ${id}`);
    const err = ((await log.waitError()) as FlintApiError).errors[0];
    if (err) seenErrors.push({ where: 'subscription volumeChanged', error: err });
    return err;
  };
  const unknownId = randomUUID();
  seen.volumeChanged = { code: (await subError(v.id))?.extensions?.code, error: withoutId(await subError(v.id), v.id) };
  want.volumeChanged = { code: 'NOT_FOUND', error: withoutId(await subError(unknownId), unknownId) };
  t.deepEqual(seen, want);
  const after = (await readVolume(t, alpha, v.id))!;
  t.deepEqual({ status: after.status, version: after.version, name: after.name }, { status: 'AVAILABLE', version: v.version, name: 'foreign-target' });
});

// ---------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------

test.serial('CSI ControllerExpandVolume / Terraform Update: an extend to the current size, a rename to the same name and a retype to the same type do nothing (operation null, version unchanged)', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'steady', sizeGiB: 2, volumeType: 'gold' });
  const answers = {
    extend: await gq<{ extendVolume: { volume: Vol; operation: Op | null } }>(t, alpha, `mutation ($input: ExtendVolumeInput!) { extendVolume(input: $input) { volume { version sizeGiB } operation { id } } }`, {
      input: { id: v.id, newSizeGiB: 2 },
    }),
    rename: await gq<{ updateVolume: { volume: Vol; operation: Op | null } }>(t, alpha, `mutation ($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { version name } operation { id } } }`, {
      input: { id: v.id, name: 'steady' },
    }),
    retype: await gq<{ retypeVolume: { volume: Vol; operation: Op | null } }>(t, alpha, `mutation ($input: RetypeVolumeInput!) { retypeVolume(input: $input) { volume { version volumeType } operation { id } } }`, {
      input: { id: v.id, volumeType: 'gold' },
    }),
  };
  const seen = Object.fromEntries(
    Object.entries(answers).map(([k, r]) => {
      const payload = r.data ? (Object.values(r.data)[0] as { volume: Vol; operation: Op | null }) : undefined;
      return [k, payload ? { operation: payload.operation, version: payload.volume.version } : { errors: r.errors?.map((e) => `${String(e.extensions?.code)}: ${e.message}`) }];
    }),
  );
  t.deepEqual(seen, { extend: { operation: null, version: v.version }, rename: { operation: null, version: v.version }, retype: { operation: null, version: v.version } });
  t.is((await readVolume(t, alpha, v.id))!.version, v.version);
});

test.serial('Crossplane Observe (upToDate from generation): a status change moves the version, not the generation; a rename moves both', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'observed' });
  const a = (await createAttachment(t, alpha, { volumeId: v.id, instanceId: 'vm-observe' })).data!.createAttachment;
  const reserved = (await readVolume(t, alpha, v.id))!;
  t.is(reserved.status, 'RESERVED');
  t.true(reserved.version > v.version, 'the status move moved the version');
  t.is(reserved.generation, v.generation, 'the status move left the generation');
  await deleted(t, alpha, 'attachment', a.attachment.id);
  const back = (await readVolume(t, alpha, v.id))!;
  t.is(back.generation, v.generation);
  const renamed = (await ok<{ updateVolume: { volume: Vol } }>(t, alpha, `mutation ($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { ${VOLUME} } } }`, {
    input: { id: v.id, name: 'observed-2' },
  })).updateVolume.volume;
  t.deepEqual({ generation: renamed.generation, version: renamed.version }, { generation: back.generation + 1, version: back.version + 1 });
});

// ---------------------------------------------------------------------------------------
// Idempotency keys
// ---------------------------------------------------------------------------------------

test.serial('CSI CreateVolume / Crossplane Create / Terraform Create: the same idempotency key with the same parameters answers with the same resource (volumes, snapshots, backups, attachments)', async (t) => {
  const { alpha } = t.context;
  const key = (k: string) => `same-${k}-${randomUUID()}`;
  const vIn = { name: 'keyed', sizeGiB: 1, idempotencyKey: key('v') };
  const [v1, v2] = await Promise.all([createVolume(t, alpha, vIn), createVolume(t, alpha, vIn)]);
  const v3 = await createVolume(t, alpha, vIn);
  const vol = v1.data!.createVolume;
  await succeeded(t, alpha, vol.operation.id);
  const sIn = { volumeId: vol.volume.id, name: 'keyed', idempotencyKey: key('s') };
  const s1 = (await createSnapshot(t, alpha, sIn)).data!.createSnapshot;
  const s2 = (await createSnapshot(t, alpha, sIn)).data?.createSnapshot;
  await succeeded(t, alpha, s1.operation.id);
  const bIn = { volumeId: vol.volume.id, name: 'keyed', idempotencyKey: key('b') };
  const b1 = (await createBackup(t, alpha, bIn)).data!.createBackup;
  const b2 = (await createBackup(t, alpha, bIn)).data?.createBackup;
  await succeeded(t, alpha, b1.operation.id);
  const aIn = { volumeId: vol.volume.id, instanceId: 'vm-keyed', idempotencyKey: key('a') };
  const a1 = (await createAttachment(t, alpha, aIn)).data!.createAttachment;
  const a2 = (await createAttachment(t, alpha, aIn)).data?.createAttachment;
  t.deepEqual(
    {
      volume: [v2.data?.createVolume.volume.id, v3.data?.createVolume.volume.id, v3.data?.createVolume.operation.id],
      snapshot: [s2?.snapshot.id, s2?.operation.id],
      backup: [b2?.backup.id, b2?.operation.id],
      attachment: [a2?.attachment.id, a2?.operation.id],
    },
    {
      volume: [vol.volume.id, vol.volume.id, vol.operation.id],
      snapshot: [s1.snapshot.id, s1.operation.id],
      backup: [b1.backup.id, b1.operation.id],
      attachment: [a1.attachment.id, a1.operation.id],
    },
  );
  const list = await ok<{ volumes: { totalCount: number } }>(t, alpha, `query { volumes(filter: { name: "keyed" }) { totalCount } }`);
  t.is(list.volumes.totalCount, 1);
});

test.serial('CSI CreateVolume (ALREADY_EXISTS): the same idempotency key with other parameters is CONFLICT, and the message says to use a new key (volumes, snapshots, backups, attachments)', async (t) => {
  const { alpha } = t.context;
  const k = randomUUID();
  const vol = (await createVolume(t, alpha, { name: 'conflicted', sizeGiB: 1, idempotencyKey: `v-${k}` })).data!.createVolume;
  await succeeded(t, alpha, vol.operation.id);
  const other = await availableVolume(t, alpha, { name: 'conflicted-other' });
  const s = (await createSnapshot(t, alpha, { volumeId: vol.volume.id, name: 'x', idempotencyKey: `s-${k}` })).data!.createSnapshot;
  await succeeded(t, alpha, s.operation.id);
  const b = (await createBackup(t, alpha, { volumeId: vol.volume.id, name: 'x', idempotencyKey: `b-${k}` })).data!.createBackup;
  await succeeded(t, alpha, b.operation.id);
  await createAttachment(t, alpha, { volumeId: vol.volume.id, instanceId: 'vm-x', idempotencyKey: `a-${k}` });
  const answers = {
    volume: await createVolume(t, alpha, { name: 'conflicted', sizeGiB: 2, idempotencyKey: `v-${k}` }),
    snapshot: await createSnapshot(t, alpha, { volumeId: other.id, name: 'x', idempotencyKey: `s-${k}` }),
    backup: await createBackup(t, alpha, { volumeId: vol.volume.id, name: 'y', idempotencyKey: `b-${k}` }),
    attachment: await createAttachment(t, alpha, { volumeId: other.id, instanceId: 'vm-x', idempotencyKey: `a-${k}` }),
  };
  const seen = Object.fromEntries(Object.entries(answers).map(([kind, r]) => [kind, { code: codeOf(r), saysNewKey: /new key/i.test(r.errors?.[0]?.message ?? ''), message: r.errors?.[0]?.message }]));
  for (const kind of Object.keys(seen)) delete (seen[kind] as { message?: string }).message;
  t.deepEqual(seen, Object.fromEntries(Object.keys(answers).map((kind) => [kind, { code: 'CONFLICT', saysNewKey: true }])), JSON.stringify(Object.values(answers).map((r) => r.errors?.[0]?.message)));
});

test.serial('Terraform Create / Crossplane Create: the idempotency key of a deleted resource is CONFLICT, saying to use a new key (volumes, snapshots, backups, attachments)', async (t) => {
  const { alpha } = t.context;
  const k = randomUUID();
  const parent = await availableVolume(t, alpha, { name: 'key-parent' });
  const v = await availableVolume(t, alpha, { name: 'key-reuse', idempotencyKey: `v-${k}` });
  const sIn = { volumeId: parent.id, name: 'key-reuse', idempotencyKey: `s-${k}` };
  const s = (await createSnapshot(t, alpha, sIn)).data!.createSnapshot;
  await succeeded(t, alpha, s.operation.id);
  const bIn = { volumeId: parent.id, name: 'key-reuse', idempotencyKey: `b-${k}` };
  const b = (await createBackup(t, alpha, bIn)).data!.createBackup;
  await succeeded(t, alpha, b.operation.id);
  const aIn = { volumeId: parent.id, instanceId: 'vm-key-reuse', idempotencyKey: `a-${k}` };
  const a = (await createAttachment(t, alpha, aIn)).data!.createAttachment;
  await deleted(t, alpha, 'attachment', a.attachment.id);
  await succeeded(t, alpha, (await deleted(t, alpha, 'volume', v.id)).operation!.id);
  await succeeded(t, alpha, (await deleted(t, alpha, 'snapshot', s.snapshot.id)).operation!.id);
  await succeeded(t, alpha, (await deleted(t, alpha, 'backup', b.backup.id)).operation!.id);
  const again = {
    volume: await createVolume(t, alpha, { name: 'key-reuse', sizeGiB: 1, idempotencyKey: `v-${k}` }),
    snapshot: await createSnapshot(t, alpha, sIn),
    backup: await createBackup(t, alpha, bIn),
    attachment: await createAttachment(t, alpha, aIn),
  };
  t.deepEqual(
    Object.fromEntries(Object.entries(again).map(([kind, r]) => [kind, { code: codeOf(r), saysNewKey: /new key/i.test(r.errors?.[0]?.message ?? '') }])),
    Object.fromEntries(Object.keys(again).map((kind) => [kind, { code: 'CONFLICT', saysNewKey: true }])),
    JSON.stringify(Object.values(again).map((r) => r.errors?.[0]?.message ?? r.data)),
  );
});

test.serial('Terraform ImportState / Crossplane Observe: a resource shows the idempotency key it was made with (volumes, snapshots, backups, attachments)', async (t) => {
  const { alpha } = t.context;
  const k = randomUUID();
  const v = await availableVolume(t, alpha, { name: 'shows-key', idempotencyKey: `v-${k}` });
  const s = (await createSnapshot(t, alpha, { volumeId: v.id, name: 'shows-key', idempotencyKey: `s-${k}` })).data!.createSnapshot;
  await succeeded(t, alpha, s.operation.id);
  const b = (await createBackup(t, alpha, { volumeId: v.id, name: 'shows-key', idempotencyKey: `b-${k}` })).data!.createBackup;
  await succeeded(t, alpha, b.operation.id);
  const a = (await createAttachment(t, alpha, { volumeId: v.id, instanceId: 'vm-shows-key', idempotencyKey: `a-${k}` })).data!.createAttachment;
  const read = await ok<Record<string, { idempotencyKey: string | null }>>(
    t,
    alpha,
    `query ($v: ID!, $s: ID!, $b: ID!, $a: ID!) { volume(id: $v) { idempotencyKey } snapshot(id: $s) { idempotencyKey } backup(id: $b) { idempotencyKey } attachment(id: $a) { idempotencyKey } }`,
    { v: v.id, s: s.snapshot.id, b: b.backup.id, a: a.attachment.id },
  );
  t.deepEqual(read, { volume: { idempotencyKey: `v-${k}` }, snapshot: { idempotencyKey: `s-${k}` }, backup: { idempotencyKey: `b-${k}` }, attachment: { idempotencyKey: `a-${k}` } });
});

// ---------------------------------------------------------------------------------------
// Operations as the handle
// ---------------------------------------------------------------------------------------

test.serial('Operations: every mutation that starts work returns an operation, which ends SUCCEEDED (create, clone, from snapshot, extend, retype, revert, snapshot, backup, verify, restore, attach, export, detach, deletes)', async (t) => {
  const { alpha } = t.context;
  const q = (m: string, input: string, sel: string) => `mutation ($input: ${input}!) { ${m}(input: $input) { ${sel} operation { ${OPERATION} } } }`;
  const pick = async (name: string, query: string, input: Record<string, unknown>): Promise<[string, Op | null, Record<string, unknown>]> => {
    const r = await gq<Record<string, Record<string, unknown> & { operation: Op | null }>>(t, alpha, query, { input });
    const payload = r.data?.[name.split(' ')[0]!];
    if (!payload) throw new Error(`${name}: ${JSON.stringify(r.errors)}`);
    return [name, payload.operation, payload];
  };
  const got: Array<[string, Op | null]> = [];
  const run = async (name: string, query: string, input: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const [n, op, payload] = await pick(name, query, input);
    got.push([n, op]);
    if (op) await succeeded(t, alpha, op.id);
    return payload;
  };
  const v = (await run('createVolume', q('createVolume', 'CreateVolumeInput', 'volume { id }'), { name: 'ops', sizeGiB: 1, volumeType: 'gold' })).volume as { id: string };
  await run('extendVolume', q('extendVolume', 'ExtendVolumeInput', 'volume { id }'), { id: v.id, newSizeGiB: 2 });
  await run('retypeVolume', q('retypeVolume', 'RetypeVolumeInput', 'volume { id }'), { id: v.id, volumeType: 'gold-plus' });
  const s = (await run('createSnapshot', q('createSnapshot', 'CreateSnapshotInput', 'snapshot { id }'), { volumeId: v.id, name: 'ops' })).snapshot as { id: string };
  const b = (await run('createBackup', q('createBackup', 'CreateBackupInput', 'backup { id }'), { volumeId: v.id })).backup as { id: string };
  await run('verifyBackup', q('verifyBackup', 'VerifyBackupInput', 'backup { id }'), { id: b.id });
  const restored = (await run('restoreBackup', q('restoreBackup', 'RestoreBackupInput', 'volume { id }'), { backupId: b.id, name: 'ops-restored' })).volume as { id: string };
  const fromSnapshot = (await run('createVolume (from a snapshot)', q('createVolume', 'CreateVolumeInput', 'volume { id }'), { name: 'ops-from-snapshot', snapshotId: s.id })).volume as { id: string };
  const clone = (await run('createVolume (a clone)', q('createVolume', 'CreateVolumeInput', 'volume { id }'), { name: 'ops-clone', sourceVolumeId: v.id })).volume as { id: string };
  await run('revertVolumeToSnapshot', q('revertVolumeToSnapshot', 'RevertVolumeToSnapshotInput', 'volume { id }'), { volumeId: v.id, snapshotId: s.id });
  const a = (await run('createAttachment', q('createAttachment', 'CreateAttachmentInput', 'attachment { id }'), { volumeId: v.id, instanceId: 'vm-ops', targetKind: 'NBD' })).attachment as { id: string };
  await run('updateAttachment', q('updateAttachment', 'UpdateAttachmentInput', 'attachment { id }'), { id: a.id, connector: { host: 'node-ops' } });
  await run('deleteAttachment', q('deleteAttachment', 'AttachmentIdInput', 'alreadyDeleted'), { id: a.id });
  await run('deleteBackup', q('deleteBackup', 'DeleteBackupInput', 'alreadyDeleted'), { id: b.id });
  await run('deleteSnapshot', q('deleteSnapshot', 'DeleteSnapshotInput', 'alreadyDeleted'), { id: s.id });
  for (const id of [v.id, restored.id, fromSnapshot.id, clone.id]) await run('deleteVolume', q('deleteVolume', 'DeleteVolumeInput', 'alreadyDeleted'), { id });
  const shape = (op: Op | null) => (op ? { id: typeof op.id, started: ['PENDING', 'RUNNING', 'SUCCEEDED'].includes(op.status) } : null);
  t.deepEqual(
    got.map(([n, op]) => [n, shape(op)]),
    got.map(([n]) => [n, { id: 'string', started: true }]),
  );
});

test.serial('Operations: operationChanged sends the current state first and completes when the operation ends', async (t) => {
  const { alpha, cluster } = t.context;
  const c = cluster.client(alpha);
  const made = (await createVolume(t, alpha, { name: 'followed', sizeGiB: 1 })).data!.createVolume;
  const before = (await ok<{ operation: Op }>(t, alpha, `query ($id: ID!) { operation(id: $id) { status } }`, { id: made.operation.id })).operation.status;
  const live = EventLog.of(c.subscribe(OperationChangedDocument, { id: made.operation.id }), 'operationChanged (live)', (e) => e.operationChanged);
  await live.waitEnd(30_000);
  const order = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED'];
  const statuses = live.values.map((o) => o.status as string);
  t.true(statuses.length >= 1, 'at least the current state');
  t.true(order.indexOf(statuses[0]!) >= order.indexOf(before), `the first event (${statuses[0]}) is the state at subscribe time or later than ${before}, never an older one`);
  t.deepEqual(statuses, [...statuses].sort((x, y) => order.indexOf(x) - order.indexOf(y)), 'in order');
  t.is(statuses.at(-1), 'SUCCEEDED');
  // Followed after it ended: its state now, then the end.
  const now = (await ok<{ operation: Op }>(t, alpha, `query ($id: ID!) { operation(id: $id) { ${OPERATION} } }`, { id: made.operation.id })).operation;
  const late = EventLog.of(c.subscribe(OperationChangedDocument, { id: made.operation.id }), 'operationChanged (late)', (e) => e.operationChanged);
  await late.waitEnd();
  t.deepEqual(
    late.values.map((o) => ({ id: o.id, status: o.status, finishedAt: o.finishedAt })),
    [{ id: now.id, status: now.status, finishedAt: now.finishedAt }],
  );
});

test.serial('Operations: operation(id, waitSeconds) long-polls until the operation ends, and answers an ended one at once', async (t) => {
  const { alpha } = t.context;
  const made = (await createVolume(t, alpha, { name: 'polled', sizeGiB: 1 })).data!.createVolume;
  const query = `query ($id: ID!, $w: Int) { operation(id: $id, waitSeconds: $w) { ${OPERATION} } }`;
  const started = Date.now();
  const polled = (await ok<{ operation: Op }>(t, alpha, query, { id: made.operation.id, w: 30 })).operation;
  const tookMs = Date.now() - started;
  t.is(polled.status, 'SUCCEEDED', 'one long-poll saw the end');
  t.true(tookMs < 30_000);
  const again = Date.now();
  const ended = (await ok<{ operation: Op }>(t, alpha, query, { id: made.operation.id, w: 30 })).operation;
  t.is(ended.status, 'SUCCEEDED');
  t.true(Date.now() - again < 5_000, 'an ended operation is answered at once');
});

test.serial('Operations: every failed operation\'s error has a code of the ErrorCode enum and a retryable boolean', async (t) => {
  const { alpha, admin } = t.context;
  // Two failures of their own: no pool can hold the size, and no pool has the type's tier.
  const tooBig = (await createVolume(t, alpha, { name: 'too-big', sizeGiB: 60_000 })).data!.createVolume;
  t.is((await settle(t, alpha, tooBig.operation.id)).status, 'FAILED');
  const v = await availableVolume(t, alpha, { name: 'unretypable', volumeType: 'gold' });
  const retype = await ok<{ retypeVolume: { operation: Op } }>(t, alpha, `mutation ($input: RetypeVolumeInput!) { retypeVolume(input: $input) { operation { ${OPERATION} } } }`, {
    input: { id: v.id, volumeType: 'platinum' },
  });
  t.is((await settle(t, alpha, retype.retypeVolume.operation.id)).status, 'FAILED');
  const failed = await ok<{ operations: { edges: Array<{ node: Op }> } }>(t, admin, `query { operations(first: 500, filter: { status: [FAILED] }) { edges { node { ${OPERATION} } } } }`);
  const ops = failed.operations.edges.map((e) => e.node);
  t.true(ops.length >= 2);
  const bad = ops.filter((o) => !o.error || !(ERROR_CODES as readonly string[]).includes(o.error.code) || typeof o.error.retryable !== 'boolean');
  t.deepEqual(bad, []);
});

// ---------------------------------------------------------------------------------------
// The resource schema
// ---------------------------------------------------------------------------------------

const volumeSchema = resourceSchema('volume');
const fields = Object.entries(volumeSchema.properties);
/** The mutations that change a volume after it was made: those the schema names for mutable and growOnly fields, and the update action. */
const changingMutations = [...new Set([...fields.filter(([, p]) => ['mutable', 'growOnly'].includes(p['x-flint-lifecycle'])).map(([, p]) => p['x-flint-mutation']!), volumeSchema['x-flint-actions'].update!.mutation])];

async function inputFieldsOf(t: T, mutation: string): Promise<string[]> {
  const r = await ok<{ __schema: { mutationType: { fields: Array<{ name: string; args: Array<{ name: string; type: { name: string | null; ofType: { name: string | null } | null } }> }> } } }>(
    t,
    t.context.admin,
    `{ __schema { mutationType { fields { name args { name type { name ofType { name } } } } } } }`,
  );
  const m = r.__schema.mutationType.fields.find((f) => f.name === mutation);
  if (!m) throw new Error(`no mutation ${mutation}`);
  const typeName = m.args.find((a) => a.name === 'input')!.type.ofType?.name ?? m.args.find((a) => a.name === 'input')!.type.name!;
  const input = await ok<{ __type: { inputFields: Array<{ name: string }> } }>(t, t.context.admin, `query ($n: String!) { __type(name: $n) { inputFields { name } } }`, { n: typeName });
  return input.__type.inputFields.map((f) => f.name);
}

/**
 * A change's `idempotencyKey` keys that request (a retry answers with its operation); it does
 * not set the resource's `idempotencyKey`, which stays the create's.
 */
const REQUEST_KEY = 'idempotencyKey';

test.serial('Terraform plan (ForceNew / immutable): every createOnly field of volume.schema.json is absent from every input that changes a volume', async (t) => {
  const createOnly = fields.filter(([, p]) => p['x-flint-lifecycle'] === 'createOnly').map(([name]) => name);
  t.true(createOnly.length > 0);
  t.deepEqual(changingMutations.sort(), ['extendVolume', 'retypeVolume', 'updateVolume']);
  const found: string[] = [];
  for (const m of changingMutations) for (const f of await inputFieldsOf(t, m)) if (createOnly.includes(f) && f !== REQUEST_KEY) found.push(`${m}.${f}`);
  t.deepEqual(found, []);
});

test.serial('Terraform plan (ForceNew / immutable): the createOnly fields of snapshot, attachment and backup schemas are absent from the inputs that change them', async (t) => {
  const found: string[] = [];
  const checked: Record<string, string[]> = {};
  for (const name of ['snapshot', 'attachment', 'backup']) {
    const schema = resourceSchema(name);
    const props = Object.entries(schema.properties);
    const createOnly = props.filter(([, p]) => p['x-flint-lifecycle'] === 'createOnly').map(([f]) => f);
    const mutations = [
      ...new Set([...props.filter(([, p]) => ['mutable', 'growOnly'].includes(p['x-flint-lifecycle'])).map(([, p]) => p['x-flint-mutation']!), ...(schema['x-flint-actions'].update ? [schema['x-flint-actions'].update.mutation] : [])]),
    ].sort();
    checked[name] = mutations;
    for (const m of mutations) for (const f of await inputFieldsOf(t, m)) if (createOnly.includes(f) && f !== REQUEST_KEY) found.push(`${name}: ${m}.${f}`);
  }
  t.deepEqual(checked, { snapshot: ['updateSnapshot'], attachment: ['updateAttachment'], backup: [] });
  t.deepEqual(found, []);
});

test.serial('Terraform Update / Crossplane Update: the mutable fields of snapshot and attachment schemas change through the mutation the schema names', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'mutable-children' });
  const snap = (await createSnapshot(t, alpha, { volumeId: v.id, name: 'before' })).data!.createSnapshot;
  await succeeded(t, alpha, snap.operation.id);
  const att = (await createAttachment(t, alpha, { volumeId: v.id, instanceId: 'vm-mutable', targetKind: 'NBD' })).data!.createAttachment;
  const mutable = (name: string) => Object.entries(resourceSchema(name).properties).filter(([, p]) => ['mutable', 'growOnly'].includes(p['x-flint-lifecycle'])).map(([f, p]) => [f, p['x-flint-mutation']]);
  t.deepEqual({ snapshot: mutable('snapshot'), attachment: mutable('attachment') }, {
    snapshot: [['name', 'updateSnapshot'], ['description', 'updateSnapshot'], ['metadata', 'updateSnapshot']],
    attachment: [['connector', 'updateAttachment']],
  });
  const s = await gq<{ updateSnapshot: { snapshot: { name: string; description: string | null } } }>(t, alpha, `mutation ($input: UpdateSnapshotInput!) { updateSnapshot(input: $input) { snapshot { name description } } }`, {
    input: { id: snap.snapshot.id, name: 'after', description: 'changed', metadata: { changed: 'yes' } },
  });
  const a = await gq<{ updateAttachment: { operation: Op | null } }>(t, alpha, `mutation ($input: UpdateAttachmentInput!) { updateAttachment(input: $input) { operation { ${OPERATION} } } }`, {
    input: { id: att.attachment.id, connector: { host: 'node-mutable' } },
  });
  if (a.data?.updateAttachment.operation) await settle(t, alpha, a.data.updateAttachment.operation.id);
  const read = await ok<{ snapshot: { name: string; description: string | null; metadata: Record<string, string> }; attachment: { connector: { host: string } | null } }>(
    t,
    alpha,
    `query ($s: ID!, $a: ID!) { snapshot(id: $s) { name description metadata } attachment(id: $a) { connector { host } } }`,
    { s: snap.snapshot.id, a: att.attachment.id },
  );
  t.deepEqual(
    { errors: [s.errors, a.errors], read },
    { errors: [undefined, undefined], read: { snapshot: { name: 'after', description: 'changed', metadata: { changed: 'yes' } }, attachment: { connector: { host: 'node-mutable' } } } },
  );
  const d = await deleted(t, alpha, 'attachment', att.attachment.id);
  if (d.operation) await settle(t, alpha, d.operation.id);
});

test.serial('Terraform Update / Crossplane Update: every mutable and growOnly field of volume.schema.json changes through the mutation the schema names', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'schema-driven', volumeType: 'gold' });
  const next: Record<string, unknown> = { name: 'schema-driven-2', description: 'changed', metadata: { changed: 'yes' }, sizeGiB: v.sizeGiB + 1, volumeType: 'gold-plus' };
  const changeable = fields.filter(([, p]) => ['mutable', 'growOnly'].includes(p['x-flint-lifecycle']));
  const seen: Record<string, unknown> = {};
  const want: Record<string, unknown> = {};
  for (const [field, p] of changeable) {
    const mutation = p['x-flint-mutation']!;
    if (!(field in next)) {
      seen[field] = 'no test value for this field: add one';
      continue;
    }
    const inputs = await inputFieldsOf(t, mutation);
    // The input field is the field's name, or `new<Field>` (extendVolume's newSizeGiB).
    const inputField = inputs.includes(field) ? field : inputs.find((f) => f.toLowerCase() === `new${field}`.toLowerCase());
    if (!inputField) {
      seen[field] = `${mutation}'s input has neither ${field} nor new${field}`;
      continue;
    }
    const typeName = `${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input`;
    const r = await gq<Record<string, { operation: Op | null }>>(t, alpha, `mutation ($input: ${typeName}!) { ${mutation}(input: $input) { operation { ${OPERATION} } } }`, {
      input: { id: v.id, [inputField]: next[field] },
    });
    const op = r.data?.[mutation]?.operation;
    if (op) await settle(t, alpha, op.id);
    const now = await readVolume(t, alpha, v.id);
    seen[field] = { via: mutation, errors: r.errors?.map((e) => e.message) ?? null, value: now?.[field], operation: op ? (await settle(t, alpha, op.id)).status : null };
    want[field] = { via: mutation, errors: null, value: next[field], operation: (seen[field] as { operation: unknown }).operation === null ? null : 'SUCCEEDED' };
  }
  t.deepEqual(seen, want);
  t.deepEqual(Object.keys(seen).sort(), ['description', 'metadata', 'name', 'sizeGiB', 'volumeType']);
});

test.serial('Terraform Update (growOnly): sizeGiB refuses a smaller value with BAD_USER_INPUT', async (t) => {
  const { alpha } = t.context;
  const growOnly = fields.filter(([, p]) => p['x-flint-lifecycle'] === 'growOnly').map(([f, p]) => [f, p['x-flint-mutation']]);
  t.deepEqual(growOnly, [['sizeGiB', 'extendVolume']]);
  const v = await availableVolume(t, alpha, { name: 'no-shrink', sizeGiB: 3 });
  const r = await gq(t, alpha, `mutation ($input: ExtendVolumeInput!) { extendVolume(input: $input) { volume { id } } }`, { input: { id: v.id, newSizeGiB: 2 } });
  t.is(codeOf(r), 'BAD_USER_INPUT');
  t.is((await readVolume(t, alpha, v.id))!.sizeGiB, 3);
});

test.serial('Terraform / Crossplane (waiting on status): the statuses a volume passes through while created, extended, retyped and deleted are within the action\'s passesThrough and endsIn', async (t) => {
  const { alpha, cluster } = t.context;
  const c = cluster.client(alpha);
  const actions = volumeSchema['x-flint-actions'];
  const allowed = (action: string) => new Set([...actions[action]!.passesThrough, ...actions[action]!.endsIn]);
  const follow = (id: string) => EventLog.of(c.subscribe(VolumeChangedDocument, { id }), `volumeChanged of ${id}`, (e) => e.volumeChanged);
  const outside: Record<string, string[]> = {};
  const observed: Record<string, string[]> = {};

  const made = (await createVolume(t, alpha, { name: 'watched', sizeGiB: 1, volumeType: 'gold' })).data!.createVolume;
  const created = follow(made.volume.id);
  await created.waitFor((v) => actions.create!.endsIn.includes(v.status));
  created.close();
  observed.create = [made.volume.status, ...created.values.map((v) => v.status)];

  const extended = follow(made.volume.id);
  await extended.waitFor(() => true);
  const skip = extended.values.length;
  const ext = await ok<{ extendVolume: { volume: Vol } }>(t, alpha, `mutation ($input: ExtendVolumeInput!) { extendVolume(input: $input) { volume { status } } }`, { input: { id: made.volume.id, newSizeGiB: 2 } });
  await extended.waitFor((v) => v.sizeGiB === 2 && actions.extend!.endsIn.includes(v.status));
  extended.close();
  observed.extend = [ext.extendVolume.volume.status, ...extended.values.slice(skip).map((v) => v.status)];

  const retyping = follow(made.volume.id);
  await retyping.waitFor(() => true);
  const skipRetype = retyping.values.length;
  const rt = await ok<{ retypeVolume: { volume: Vol } }>(t, alpha, `mutation ($input: RetypeVolumeInput!) { retypeVolume(input: $input) { volume { status } } }`, {
    input: { id: made.volume.id, volumeType: made.volume.volumeType === 'gold' ? 'gold-plus' : 'gold' },
  });
  await retyping.waitFor((v) => v.volumeType !== made.volume.volumeType && actions.retype!.endsIn.includes(v.status));
  retyping.close();
  observed.retype = [rt.retypeVolume.volume.status, ...retyping.values.slice(skipRetype).map((v) => v.status)];

  const deleting = follow(made.volume.id);
  await deleting.waitFor(() => true);
  const skipDel = deleting.values.length;
  const d = await deleted(t, alpha, 'volume', made.volume.id);
  await deleting.waitEnd(30_000);
  observed.delete = [statusOf(d), ...deleting.values.slice(skipDel).map((v) => v.status)];

  for (const [action, statuses] of Object.entries(observed)) outside[action] = statuses.filter((s) => !allowed(action).has(s));
  t.deepEqual(outside, { create: [], extend: [], retype: [], delete: [] }, JSON.stringify(observed));
  t.log(`statuses seen: ${JSON.stringify(observed)}`);
  t.true(observed.delete!.includes('DELETED'));
});

test.serial('Terraform ImportState: a volume read by its id alone has every field volume.schema.json requires, of the declared kinds', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'imported', metadata: { a: 'b' }, idempotencyKey: `import-${randomUUID()}` });
  const read = (await readVolume(t, alpha, v.id))!;
  const problems: string[] = [];
  const kinds = (p: (typeof volumeSchema.properties)[string]): string[] => {
    const types = [p.type, ...((p.anyOf as Array<{ type?: unknown }> | undefined) ?? []).map((x) => x.type)].flat().filter((x): x is string => typeof x === 'string');
    return types.map((x) => (x === 'integer' ? 'number' : x));
  };
  for (const field of volumeSchema.required) {
    const p = volumeSchema.properties[field]!;
    if (!(field in read)) {
      problems.push(`${field} missing`);
      continue;
    }
    const value = read[field];
    const kind = value === null ? 'null' : typeof value;
    if (!kinds(p).includes(kind)) problems.push(`${field}: ${kind}, schema says ${kinds(p).join('|')}`);
    if (p.enum && !p.enum.includes(value as string)) problems.push(`${field}: ${String(value)} not in its enum`);
  }
  t.deepEqual(problems, []);
  t.deepEqual(Object.keys(volumeSchema.properties).sort(), Object.keys(read).sort(), 'the suite reads every field of the schema');
});

// ---------------------------------------------------------------------------------------
// Attachments (CSI ControllerPublishVolume)
// ---------------------------------------------------------------------------------------

test.serial('CSI ControllerPublishVolume: publishing again for the same (volume, instance, node) answers with the same attachment; another mode is CONFLICT', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'published' });
  const input = { volumeId: v.id, instanceId: 'vm-pub', targetKind: 'NBD', connector: { host: 'node-pub' } };
  const first = (await createAttachment(t, alpha, input)).data!.createAttachment;
  await succeeded(t, alpha, first.operation.id);
  const again = await createAttachment(t, alpha, input);
  t.deepEqual({ id: again.data?.createAttachment.attachment.id, errors: again.errors }, { id: first.attachment.id, errors: undefined });
  const ro = await createAttachment(t, alpha, { ...input, mode: 'RO' });
  t.is(codeOf(ro), 'CONFLICT');
  t.is(ro.errors?.[0]?.extensions?.attachmentId, first.attachment.id);
  const list = await ok<{ volume: { attachments: Att[] } }>(t, alpha, `query ($id: ID!) { volume(id: $id) { attachments { ${ATTACHMENT} } } }`, { id: v.id });
  t.deepEqual(list.volume.attachments.map((a) => a.id), [first.attachment.id]);
  const d = await deleted(t, alpha, 'attachment', first.attachment.id);
  if (d.operation) await settle(t, alpha, d.operation.id);
});

test.serial('CSI ControllerPublishVolume: publishing a single-attach volume to another node is an error (INVALID_STATE)', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'single' });
  const first = (await createAttachment(t, alpha, { volumeId: v.id, instanceId: 'vm-1' })).data!.createAttachment;
  const second = await createAttachment(t, alpha, { volumeId: v.id, instanceId: 'vm-2', connector: { host: 'node-2' }, targetKind: 'NBD' });
  t.is(codeOf(second), 'INVALID_STATE');
  await deleted(t, alpha, 'attachment', first.attachment.id);
});

// ---------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------

test.serial('Terraform Update / Crossplane Update: a change retried with its idempotencyKey after it succeeded answers with its first operation; the key with another change is CONFLICT', async (t) => {
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'keyed-change' });
  const key = `grow-${randomUUID()}`;
  const extend = `mutation ($input: ExtendVolumeInput!) { extendVolume(input: $input) { volume { ${VOLUME} } operation { ${OPERATION} } } }`;
  type Extended = { extendVolume: { volume: Vol; operation: Op | null } };
  const first = await ok<Extended>(t, alpha, extend, { input: { id: v.id, newSizeGiB: 2, idempotencyKey: key } });
  await succeeded(t, alpha, first.extendVolume.operation!.id);
  // The client timed out and retries: the volume already has 2 GiB, and the key says which request made it so.
  const retried = await ok<Extended>(t, alpha, extend, { input: { id: v.id, newSizeGiB: 2, idempotencyKey: key } });
  t.is(retried.extendVolume.operation?.id, first.extendVolume.operation!.id);
  t.is(retried.extendVolume.operation?.status, 'SUCCEEDED');
  t.is(retried.extendVolume.volume.sizeGiB, 2);
  const other = await gq<Extended>(t, alpha, extend, { input: { id: v.id, newSizeGiB: 3, idempotencyKey: key } });
  t.is(codeOf(other), 'CONFLICT');
  t.is(other.errors?.[0]?.extensions?.operationId, first.extendVolume.operation!.id);
  t.is((await readVolume(t, alpha, v.id))!.sizeGiB, 2, 'the conflicting request changed nothing');
});

test.serial('Crossplane / Kubernetes list-then-watch: a list returns changeSeq, and volumeEvents(sinceSeq) replays what changed after it before going live, with no gap', async (t) => {
  const { cluster, alpha } = t.context;
  const c = cluster.client(alpha);
  const v = await availableVolume(t, alpha, { name: 'watched-before' });
  const list = await ok<{ volumes: { changeSeq: number | null } }>(t, alpha, `query { volumes(first: 1) { changeSeq } }`);
  const since = list.volumes.changeSeq!;
  t.true(Number.isInteger(since) && since > 0);
  // Changed while no one watches (the gap between the list and the subscription).
  await ok(t, alpha, `mutation ($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { id } } }`, { input: { id: v.id, name: 'watched-renamed' } });
  const events = EventLog.of(c.subscribe(VolumeEventsDocument, { sinceSeq: since }), 'volumeEvents(sinceSeq)', (e) => e.volumeEvents);
  const replayed = await events.waitFor((e) => e.volume.id === v.id && e.volume.name === 'watched-renamed');
  t.true(replayed.volume.changeSeq > since);
  // Then live.
  await ok(t, alpha, `mutation ($input: UpdateVolumeInput!) { updateVolume(input: $input) { volume { id } } }`, { input: { id: v.id, description: 'live' } });
  const live = await events.waitFor((e) => e.volume.id === v.id && e.volume.description === 'live');
  t.true(live.volume.changeSeq > replayed.volume.changeSeq);
  events.close();
  // A seq the feed cannot replay (ahead of the project's) tells the client to list again.
  const ahead = EventLog.of(c.subscribe(VolumeEventsDocument, { sinceSeq: live.volume.changeSeq + 1_000_000 }), 'volumeEvents(ahead)', (e) => e.volumeEvents);
  const err = ((await ahead.waitError()) as FlintApiError).errors[0];
  if (err) seenErrors.push({ where: 'subscription volumeEvents(sinceSeq)', error: err });
  t.is(err?.extensions?.code, 'RESYNC_REQUIRED');
  t.regex(err?.message ?? '', /list again/i);
});

test.serial('Relay paging (Terraform data sources, Crossplane Observe of many): first/after and last/before walk the same set, in the same order, both ways', async (t) => {
  const { cluster } = t.context;
  const token = await cluster.token('pager', 'member');
  for (let i = 0; i < 7; i++) await createVolume(t, token, { name: `page-${i}`, sizeGiB: 1 });
  const page = `edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`;
  interface Page {
    volumes: { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null } };
  }
  const forward: string[] = [];
  for (let after: string | null = null, n = 0; n < 10; n++) {
    const r: Page = await ok<Page>(t, token, `query ($after: String) { volumes(first: 3, after: $after) { ${page} } }`, { after });
    forward.push(...r.volumes.edges.map((e) => e.node.id));
    if (!r.volumes.pageInfo.hasNextPage) break;
    after = r.volumes.pageInfo.endCursor;
  }
  const backward: string[] = [];
  for (let before: string | null = null, n = 0; n < 10; n++) {
    const r: Page = await ok<Page>(t, token, `query ($before: String) { volumes(last: 3, before: $before) { ${page} } }`, { before });
    backward.unshift(...r.volumes.edges.map((e) => e.node.id));
    if (!r.volumes.pageInfo.hasPreviousPage) break;
    before = r.volumes.pageInfo.startCursor;
  }
  const all = await ok<{ volumes: { totalCount: number } }>(t, token, `{ volumes(first: 500) { totalCount } }`);
  t.is(forward.length, 7);
  t.is(all.volumes.totalCount, 7);
  t.deepEqual(backward, forward);
  t.is(new Set(forward).size, 7);
});

// ---------------------------------------------------------------------------------------
// Errors (last: it checks what every test above received)
// ---------------------------------------------------------------------------------------

test.serial('Errors: every GraphQL error the suite received has an extensions.code of the ErrorCode enum', async (t) => {
  const { beta, cluster } = t.context;
  // And a subscription's error: another project's volume.
  const { alpha } = t.context;
  const v = await availableVolume(t, alpha, { name: 'sub-error' });
  const sub = EventLog.of(cluster.client(beta).subscribe(VolumeChangedDocument, { id: v.id }), 'volumeChanged (foreign)');
  const err = (await sub.waitError()) as FlintApiError;
  for (const error of err.errors) seenErrors.push({ where: 'subscription volumeChanged (foreign)', error });
  // And the failures of the request itself: no token, a reader's mutation, GraphQL that does not parse or validate, bad variables.
  const reader = await cluster.token('alpha', 'reader');
  const record = (where: string, r: Answer<unknown>) => {
    for (const error of r.errors ?? []) seenErrors.push({ where, error });
  };
  record('no token', await cluster.client(null).raw<unknown, Record<string, unknown>>(`{ volumes { totalCount } }`));
  await gq(t, reader, `mutation { createVolume(input: { name: "nope", sizeGiB: 1 }) { volume { id } } }`);
  await gq(t, alpha, `{ volumes { totalCount `);
  await gq(t, alpha, `{ volumes { noSuchField } }`);
  await gq(t, alpha, `query ($id: ID!) { volume(id: $id) { id } }`, { id: 42.5 });
  await gq(t, alpha, `mutation ($input: CreateVolumeInput!) { createVolume(input: $input) { volume { id } } }`, { input: { name: 'x', sizeGiB: 'big' } });
  t.true(seenErrors.length >= 10, `the suite saw ${seenErrors.length} errors`);
  const unknown = seenErrors.filter((e) => !(ERROR_CODES as readonly unknown[]).includes(e.error.extensions?.code)).map((e) => `${e.where}: ${JSON.stringify(e.error)}`);
  t.deepEqual(unknown, []);
  // The overview's promise beside the code: `extensions.retryable` says whether to retry.
  const noRetryable = seenErrors.filter((e) => typeof e.error.extensions?.retryable !== 'boolean').map((e) => `${e.where}: ${JSON.stringify(e.error)}`);
  t.deepEqual(noRetryable, []);
  t.log(`codes seen: ${[...new Set(seenErrors.map((e) => String(e.error.extensions?.code)))].sort().join(', ')}`);
});

test.after.always('no process is left behind', noProcessesLeft);
