/**
 * One of every kind of resource a project owns, made through the API: a private volume
 * type granted to the project, a spare volume, a volume of that type, a volume offered for transfer, a snapshot, a backup, an attachment,
 * a volume that failed (with its user message), a status audit of it, and the operations
 * of all these. `ownedKinds` reads from the schema which kinds there are, so a new kind
 * without a recipe here fails the suite instead of going untested.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getNamedType, isObjectType, type GraphQLSchema } from 'graphql';
import type { Flint, GraphQLResponse } from './harness.js';

/** Object types with an id that belong to no project: the cluster's pools. */
const CLUSTER_KINDS = new Set(['Pool']);

/** Every object type with an `id: ID!` field, but the cluster's own: the kinds a project owns. */
export function ownedKinds(schema: GraphQLSchema): string[] {
  const kinds: string[] = [];
  for (const t of Object.values(schema.getTypeMap())) {
    if (!isObjectType(t) || t.name.startsWith('__') || CLUSTER_KINDS.has(t.name)) continue;
    const id = t.getFields().id;
    if (id && getNamedType(id.type).name === 'ID') kinds.push(t.name);
  }
  return kinds.sort();
}

export interface ProjectResources {
  projectId: string;
  /** Kind (GraphQL type name) → ids of that kind. */
  ids: Map<string, string[]>;
  /** Every name and free text given to these resources (all start with the project's prefix). */
  names: string[];
}

export function allIds(r: ProjectResources): string[] {
  return [r.projectId, ...[...r.ids.values()].flat()];
}

function need(res: GraphQLResponse, what: string): Record<string, unknown> {
  if (!res.data || res.errors?.length) throw new Error(`${what} failed: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** Polls `get` until it returns a value; `get` may record what it saw in `last` for the timeout's message. */
async function until<T>(what: string, get: (last: { seen?: unknown }) => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  const last: { seen?: unknown } = {};
  for (;;) {
    const v = await get(last);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last.seen)}`);
    await sleep(100);
  }
}

/**
 * Makes one of each kind in the project of `member` (`prefix` starts every name), using
 * `admin` for what only admins do (the private type and its access, the status reset).
 */
export async function createProjectResources(flint: Flint, admin: string, member: string, prefix: string): Promise<ProjectResources> {
  const ids = new Map<string, string[]>();
  const names: string[] = [];
  const add = (kind: string, id: unknown) => {
    if (typeof id !== 'string') throw new Error(`no ${kind} id`);
    ids.set(kind, [...(ids.get(kind) ?? []), id]);
  };
  const named = (n: string) => {
    names.push(n);
    return n;
  };
  const call = async (token: string, what: string, query: string, variables?: Record<string, unknown>) => need(await flint.request(token, query, variables), what);
  const volumeStatus = async (id: string) => ((await call(member, 'volume', 'query($id: ID!) { volume(id: $id) { status } }', { id })).volume as { status: string }).status;
  const available = (id: string) => async (last: { seen?: unknown }) => {
    const status = (last.seen = await volumeStatus(id));
    if (status.startsWith('ERROR')) throw new Error(`volume ${id} is ${status}`);
    return status === 'AVAILABLE' ? true : undefined;
  };

  const projectId = ((await call(member, 'viewer', '{ viewer { projectId } }')).viewer as { projectId: string }).projectId;

  const type = (await call(admin, 'createVolumeType', 'mutation($i: CreateVolumeTypeInput!) { createVolumeType(input: $i) { id } }', {
    i: { name: named(`${prefix}-type`), description: named(`${prefix}-type-description`), isPublic: false, extraSpecs: { [`qos:${prefix}-spec`]: named(`${prefix}-spec-value`) } },
  })).createVolumeType as { id: string };
  names.push(`${prefix}-spec`);
  add('VolumeType', type.id);
  await call(admin, 'addVolumeTypeAccess', 'mutation($i: VolumeTypeAccessInput!) { addVolumeTypeAccess(input: $i) { id } }', { i: { volumeTypeId: type.id, projectId } });

  // First in the list, so fillers use it: AVAILABLE with nothing attached, it can be retyped, extended, deleted.
  const spare = (await call(member, 'createVolume', 'mutation($i: CreateVolumeInput!) { createVolume(input: $i) { volume { id } operation { id } } }', {
    i: { name: named(`${prefix}-spare`), sizeGiB: 1 },
  })).createVolume as { volume: { id: string }; operation: { id: string } };
  add('Volume', spare.volume.id);
  add('Operation', spare.operation.id);

  const created = (await call(member, 'createVolume', 'mutation($i: CreateVolumeInput!) { createVolume(input: $i) { volume { id } operation { id } } }', {
    i: {
      name: named(`${prefix}-volume`),
      sizeGiB: 1,
      volumeType: `${prefix}-type`,
      description: named(`${prefix}-volume-description`),
      metadata: { [named(`${prefix}-key`)]: named(`${prefix}-value`) },
      idempotencyKey: named(`${prefix}-idem`),
    },
  })).createVolume as { volume: { id: string }; operation: { id: string } };
  const volumeId = created.volume.id;
  add('Volume', volumeId);
  add('Operation', created.operation.id);
  await until('the volume to be AVAILABLE', available(volumeId));
  await until('the spare volume to be AVAILABLE', available(spare.volume.id));

  // Offered for transfer (AWAITING_TRANSFER): its transfer must be invisible to other projects, and its key is never shown again.
  const gift = (await call(member, 'createVolume', 'mutation($i: CreateVolumeInput!) { createVolume(input: $i) { volume { id } operation { id } } }', {
    i: { name: named(`${prefix}-gift`), sizeGiB: 1 },
  })).createVolume as { volume: { id: string }; operation: { id: string } };
  add('Volume', gift.volume.id);
  add('Operation', gift.operation.id);
  await until('the volume to give to be AVAILABLE', available(gift.volume.id));
  const transfer = (await call(member, 'createVolumeTransfer', 'mutation($i: CreateVolumeTransferInput!) { createVolumeTransfer(input: $i) { transfer { id } } }', {
    i: { volumeId: gift.volume.id, name: named(`${prefix}-transfer`) },
  })).createVolumeTransfer as { transfer: { id: string } };
  add('VolumeTransfer', transfer.transfer.id);

  const snap = (await call(member, 'createSnapshot', 'mutation($i: CreateSnapshotInput!) { createSnapshot(input: $i) { snapshot { id } operation { id } } }', {
    i: { volumeId, name: named(`${prefix}-snapshot`), description: named(`${prefix}-snapshot-description`) },
  })).createSnapshot as { snapshot: { id: string }; operation: { id: string } };
  add('Snapshot', snap.snapshot.id);
  add('Operation', snap.operation.id);
  await until('the snapshot to be AVAILABLE', async () => {
    const s = (await call(member, 'snapshot', 'query($id: ID!) { snapshot(id: $id) { status } }', { id: snap.snapshot.id })).snapshot as { status: string };
    return s.status === 'AVAILABLE' ? true : undefined;
  });

  const backup = (await call(member, 'createBackup', 'mutation($i: CreateBackupInput!) { createBackup(input: $i) { backup { id } operation { id } } }', {
    i: { volumeId, name: named(`${prefix}-backup`), description: named(`${prefix}-backup-description`) },
  })).createBackup as { backup: { id: string }; operation: { id: string } };
  add('Backup', backup.backup.id);
  add('Operation', backup.operation.id);
  await until('the backup to be AVAILABLE', async (last) => {
    const data = await call(member, 'backup', 'query($id: ID!, $op: ID!) { backup(id: $id) { status } operation(id: $op) { status error { code message } } }', { id: backup.backup.id, op: backup.operation.id });
    last.seen = data;
    const b = data.backup as { status: string };
    if (b.status === 'ERROR') throw new Error(`the backup failed: ${JSON.stringify(data)}`);
    return b.status === 'AVAILABLE' ? true : undefined;
  });
  await until('the volume to be AVAILABLE after its backup', available(volumeId));

  // Reserved (no connector): an attachment without an export, so no target process is needed.
  const att = (await call(member, 'createAttachment', 'mutation($i: CreateAttachmentInput!) { createAttachment(input: $i) { attachment { id } operation { id } } }', {
    i: { volumeId, instanceId: named(`${prefix}-instance`) },
  })).createAttachment as { attachment: { id: string }; operation: { id: string } | null };
  add('Attachment', att.attachment.id);
  if (att.operation) add('Operation', att.operation.id);

  // Larger than the pool: the scheduler fails it, which leaves a user message.
  const failed = (await call(member, 'createVolume', 'mutation($i: CreateVolumeInput!) { createVolume(input: $i) { volume { id } operation { id } } }', {
    i: { name: named(`${prefix}-too-large`), sizeGiB: 60_000 },
  })).createVolume as { volume: { id: string }; operation: { id: string } };
  add('Volume', failed.volume.id);
  add('Operation', failed.operation.id);
  await until('the too large volume to fail', async () => ((await volumeStatus(failed.volume.id)) === 'ERROR' ? true : undefined));
  const messages = (await call(member, 'messages', 'query($id: ID) { messages(filter: { resourceId: $id }) { edges { node { id } } } }', { id: failed.volume.id })).messages as {
    edges: Array<{ node: { id: string } }>;
  };
  for (const e of messages.edges) add('UserMessage', e.node.id);

  const reset = (await call(admin, 'resetVolumeStatus', 'mutation($i: ResetVolumeStatusInput!) { resetVolumeStatus(input: $i) { audit { id } } }', {
    i: { id: failed.volume.id, status: 'ERROR', reason: named(`${prefix}-reset-reason`) },
  })).resetVolumeStatus as { audit: { id: string } };
  add('StatusAudit', reset.audit.id);

  // A token of this project (admins make them); its id must not be usable by another project.
  const projectName = ((await call(member, 'viewer', '{ viewer { projectName } }')).viewer as { projectName: string }).projectName;
  const token = (await call(admin, 'createApiToken', 'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { apiToken { id } } }', {
    i: { project: projectName, role: 'READER', name: named(`${prefix}-token`) },
  })).createApiToken as { apiToken: { id: string } };
  add('ApiToken', token.apiToken.id);

  return { projectId, ids, names };
}
