/**
 * What the conformance suite (issue 16) shares: one real cluster, GraphQL text sent through
 * the SDK's `raw` (so a test selects exactly the fields a contract talks about), every
 * GraphQL error any call got (checked against the ErrorCode enum by the last test), and the
 * waits on operations through the API's own long-poll.
 */
import type { ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GraphQLFormattedError } from 'graphql';
import type { Cluster } from '../helpers/cluster.js';

export interface Ctx {
  cluster: Cluster;
  admin: string;
  /** A member of project alpha, where most resources are made. */
  alpha: string;
  /** A member of project beta: the foreign project. */
  beta: string;
}

export type T = ExecutionContext<Ctx>;

/** The volume's fields, all of them (volume.schema.json's properties). */
export const VOLUME =
  'id version createdAt updatedAt name description metadata sizeGiB volumeType availabilityZone multiattach snapshotId sourceVolumeId idempotencyKey status generation host pool encrypted migrationStatus changeSeq';
export const OPERATION = 'id kind status resourceId resourceType createdAt finishedAt error { code retryable message }';

export interface Op {
  id: string;
  kind: string;
  status: 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  resourceId: string;
  resourceType: string;
  createdAt: string;
  finishedAt: string | null;
  error: { code: string; retryable: boolean; message: string } | null;
}

export interface Vol {
  id: string;
  version: number;
  generation: number;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  sizeGiB: number;
  volumeType: string | null;
  status: string;
  idempotencyKey: string | null;
  [field: string]: unknown;
}

export interface Answer<D> {
  data?: D | null;
  errors?: GraphQLFormattedError[];
}

/** Every GraphQL error the suite's calls received, with the call that got it. */
export const seenErrors: Array<{ where: string; error: GraphQLFormattedError }> = [];

/** Sends GraphQL text with a token and records the errors of the answer. */
export async function gq<D>(t: T, token: string, query: string, variables?: Record<string, unknown>): Promise<Answer<D>> {
  const r = await t.context.cluster.client(token).raw<D, Record<string, unknown>>(query, variables);
  for (const error of r.errors ?? []) seenErrors.push({ where: query.replace(/\s+/g, ' ').slice(0, 120), error });
  return r;
}

/** Like {@link gq}, for a call that must succeed: its data. */
export async function ok<D>(t: T, token: string, query: string, variables?: Record<string, unknown>): Promise<D> {
  const r = await gq<D>(t, token, query, variables);
  if (r.errors?.length || !r.data) throw new Error(`${query.replace(/\s+/g, ' ').slice(0, 100)} failed: ${JSON.stringify(r.errors)}`);
  return r.data;
}

/** `extensions.code` of an answer's first error. */
export const codeOf = (r: Answer<unknown>): unknown => r.errors?.[0]?.extensions?.code;

export const ended = (o: Pick<Op, 'status'> | null | undefined): boolean => o?.status === 'SUCCEEDED' || o?.status === 'FAILED';

/** Waits for an operation's end with `operation(id, waitSeconds)`, the API's long-poll. */
export async function settle(t: T, token: string, id: string, timeoutMs = 60_000): Promise<Op> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { operation } = await ok<{ operation: Op | null }>(t, token, `query ($id: ID!) { operation(id: $id, waitSeconds: 10) { ${OPERATION} } }`, { id });
    if (operation && ended(operation)) return operation;
    if (Date.now() > until) throw new Error(`operation ${id} did not end within ${timeoutMs} ms; last seen ${JSON.stringify(operation)}`);
  }
}

/** Waits until an operation ended SUCCEEDED; fails the test with its error otherwise. */
export async function succeeded(t: T, token: string, id: string): Promise<Op> {
  const op = await settle(t, token, id);
  if (op.status !== 'SUCCEEDED') throw new Error(`operation ${id} (${op.kind}) ended ${op.status}: ${JSON.stringify(op.error)}`);
  return op;
}

export async function readVolume(t: T, token: string, id: string): Promise<Vol | null> {
  return (await ok<{ volume: Vol | null }>(t, token, `query ($id: ID!) { volume(id: $id) { ${VOLUME} } }`, { id })).volume;
}

export type CreateVolume = { createVolume: { volume: Vol; operation: Op } };

export function createVolume(t: T, token: string, input: Record<string, unknown>): Promise<Answer<CreateVolume>> {
  return gq<CreateVolume>(t, token, `mutation ($input: CreateVolumeInput!) { createVolume(input: $input) { volume { ${VOLUME} } operation { ${OPERATION} } } }`, { input });
}

/** A volume that is AVAILABLE. */
export async function availableVolume(t: T, token: string, input: Record<string, unknown>): Promise<Vol> {
  const r = await createVolume(t, token, { sizeGiB: 1, ...input });
  if (!r.data) throw new Error(`createVolume failed: ${JSON.stringify(r.errors)}`);
  await succeeded(t, token, r.data.createVolume.operation.id);
  return (await readVolume(t, token, r.data.createVolume.volume.id))!;
}

export interface Snap {
  id: string;
  status: string;
  version: number;
  generation: number;
  idempotencyKey: string | null;
}
export const SNAPSHOT = 'id status version generation idempotencyKey name';
export type CreateSnapshot = { createSnapshot: { snapshot: Snap; operation: Op } };

export function createSnapshot(t: T, token: string, input: Record<string, unknown>): Promise<Answer<CreateSnapshot>> {
  return gq<CreateSnapshot>(t, token, `mutation ($input: CreateSnapshotInput!) { createSnapshot(input: $input) { snapshot { ${SNAPSHOT} } operation { ${OPERATION} } } }`, { input });
}

export interface Bak {
  id: string;
  status: string;
  version: number;
  idempotencyKey: string | null;
}
export const BACKUP = 'id status version idempotencyKey';
export type CreateBackup = { createBackup: { backup: Bak; operation: Op } };

export function createBackup(t: T, token: string, input: Record<string, unknown>): Promise<Answer<CreateBackup>> {
  return gq<CreateBackup>(t, token, `mutation ($input: CreateBackupInput!) { createBackup(input: $input) { backup { ${BACKUP} } operation { ${OPERATION} } } }`, { input });
}

export interface Att {
  id: string;
  status: string;
  mode: string;
  instanceId: string;
  idempotencyKey: string | null;
  version: number;
}
export const ATTACHMENT = 'id status mode instanceId idempotencyKey version';
export type CreateAttachment = { createAttachment: { attachment: Att; operation: Op } };

export function createAttachment(t: T, token: string, input: Record<string, unknown>): Promise<Answer<CreateAttachment>> {
  return gq<CreateAttachment>(t, token, `mutation ($input: CreateAttachmentInput!) { createAttachment(input: $input) { attachment { ${ATTACHMENT} } operation { ${OPERATION} } } }`, { input });
}

/** The deletes, by resource: the mutation, its payload's resource field, and what to select of it. */
export const DELETES = {
  volume: { mutation: 'deleteVolume', input: 'DeleteVolumeInput', field: 'volume', select: 'id status version' },
  snapshot: { mutation: 'deleteSnapshot', input: 'DeleteSnapshotInput', field: 'snapshot', select: 'id status version' },
  backup: { mutation: 'deleteBackup', input: 'DeleteBackupInput', field: 'backup', select: 'id status version' },
  attachment: { mutation: 'deleteAttachment', input: 'AttachmentIdInput', field: 'attachment', select: 'id status version' },
  transfer: { mutation: 'deleteVolumeTransfer', input: 'DeleteVolumeTransferInput', field: 'transfer', select: 'id status' },
  volumeType: { mutation: 'deleteVolumeType', input: 'DeleteVolumeTypeInput', field: 'volumeTypeId', select: '' },
} as const;
export type Deletable = keyof typeof DELETES;

export interface Deleted {
  alreadyDeleted: boolean;
  resource: { id: string; status: string } | string;
  operation: Op | null;
}

/** Sends the delete of a resource; the payload as {@link Deleted} (a volume type has no operation). */
export async function del(t: T, token: string, kind: Deletable, id: string): Promise<Answer<Deleted>> {
  const d = DELETES[kind];
  const hasOperation = kind !== 'transfer' && kind !== 'volumeType';
  const selection = `alreadyDeleted ${d.field}${d.select ? ` { ${d.select} }` : ''}${hasOperation ? ` operation { ${OPERATION} }` : ''}`;
  const r = await gq<Record<string, Record<string, unknown>>>(t, token, `mutation ($input: ${d.input}!) { ${d.mutation}(input: $input) { ${selection} } }`, { input: { id } });
  const p = r.data?.[d.mutation];
  return {
    ...(r.errors ? { errors: r.errors } : {}),
    data: p ? { alreadyDeleted: p.alreadyDeleted as boolean, resource: p[d.field] as Deleted['resource'], operation: (p.operation as Op | null | undefined) ?? null } : null,
  };
}

/** The payload of a delete that must succeed. */
export async function deleted(t: T, token: string, kind: Deletable, id: string): Promise<Deleted> {
  const r = await del(t, token, kind, id);
  if (r.errors?.length || !r.data) throw new Error(`delete of ${kind} ${id} failed: ${JSON.stringify(r.errors)}`);
  return r.data;
}

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export interface ResourceSchema {
  properties: Record<string, { 'x-flint-lifecycle': 'computed' | 'createOnly' | 'mutable' | 'growOnly'; 'x-flint-mutation'?: string; enum?: string[]; type?: unknown; anyOf?: unknown[] }>;
  required: string[];
  'x-flint-actions': Record<string, { mutation: string; from: string[]; passesThrough: string[]; endsIn: string[] }>;
}

/** schema/resources/<name>.schema.json, as checked in. */
export function resourceSchema(name: string): ResourceSchema {
  return JSON.parse(readFileSync(join(ROOT, 'schema', 'resources', `${name}.schema.json`), 'utf8')) as ResourceSchema;
}

/** An error's message and extensions with every occurrence of `id` replaced, to compare two errors about different ids. */
export function withoutId(e: GraphQLFormattedError | undefined, id: string): unknown {
  if (!e) return e;
  return JSON.parse(JSON.stringify({ message: e.message, path: e.path, extensions: e.extensions }).split(id).join('<id>'));
}
