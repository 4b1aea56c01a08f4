/**
 * What the attachment mutations do (Cinder's v3 attachments API), in the manner of
 * `snapshot-service.ts`: validate, check the state machines (src/domain/attachment-states.ts),
 * commit the change with its operation (holding the agent command, if any) in one
 * transaction, then publish. The volume's status follows its attachments: a new
 * attachment moves it in the same transaction as a compare-and-set at the version read
 * (so two attachments of a volume without multiattach cannot both win); later changes
 * recompute it after their commit (`syncVolumeStatus`).
 */
import type { OperationKind } from '../../domain/operations.js';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/knex';
import {
  ATTACHMENT_COMMAND,
  ATTACHMENT_KIND,
  subjects,
  type AgentExportAttachment,
  type AgentUnexportAttachment,
  type PoolStats,
} from '../../bus/index.js';
import {
  Attachment,
  casAttachment,
  casVolume,
  findAttachment,
  findVolume,
  liveAttachmentsOf,
  Operation,
  syncVolumeStatus,
  type OutboxCommand,
  type Principal,
  type StatusAudit,
  type Volume,
} from '../../db/index.js';
import { addAudit } from '../../db/audit-store.js';
import {
  ATTACH_MODES,
  ATTACHMENT_ACTIONS,
  assertAttachmentCanStart,
  attachmentInvalidState,
  checkComplete,
  checkNewAttachment,
  deletePlan,
  TARGET_KINDS,
  volumeStatusFromAttachments,
  type AttachmentAction,
  type AttachmentStatus,
  type AttachTargetKind,
} from '../../domain/attachment-states.js';
import { checkConnector, checkInstanceId, type Connector } from '../../domain/connector.js';
import { chooseAttachmentTarget, type TargetChoice } from '../../domain/attachment-target-choice.js';
import { checkReason } from '../../domain/admin-rules.js';
import { canSee, requireAdmin, requireWriter } from '../../domain/access.js';
import { checkIdempotencyKey, ConflictError, NotFoundError, Problems } from '../../domain/index.js';
import type {
  AttachmentIdRequest,
  AttachmentResult,
  AttachmentServiceApi,
  CreateAttachmentRequest,
  ForceDetachRequest,
  UpdateAttachmentRequest,
} from '../../resolvers/attachment-services.js';
import type { SecretBox } from '../../domain/secret-box.js';
import { chapForBus, revealChapSecret, sealChapSecret } from './attachment-secrets.js';
import { announceAndDispatch, succeeded } from './kernel.js';
import type { GatewayDeps } from '../deps.js';

const CAS_ATTEMPTS = 5;

/** The gateway's deps plus the pools' heartbeats: what each pool offers for exports. */
export type AttachmentServiceDeps = GatewayDeps & { pools: { list(): PoolStats[] } };

class VolumeMoved extends Error {}

export class AttachmentService implements AttachmentServiceApi {
  /** @param secrets Seals the CHAP secrets stored and sent to agents (src/config/secret-key.ts). */
  constructor(
    private readonly deps: AttachmentServiceDeps,
    private readonly secrets: SecretBox,
  ) {}

  async visible(p: Principal, id: string, em = this.deps.db.fork()): Promise<Attachment | null> {
    const a = await findAttachment(em, id);
    return a && canSee(p, a.projectId) ? a : null;
  }

  /** `load` reads the attachment row (a request's batched loader); default one query. */
  async chapSecretFor(p: Principal, a: { id: string; projectIdValue: string }, load = (id: string) => findAttachment(this.deps.db.fork(), id)): Promise<string | null> {
    const allowed = p.role === 'admin' || (p.role === 'member' && p.projectId === a.projectIdValue);
    if (!allowed) return null;
    const stored = (await load(a.id))?.chapSecret ?? null;
    if (stored === null) return null;
    try {
      return revealChapSecret(this.secrets, a.id, stored);
    } catch (err) {
      this.deps.log.error({ err, attachmentId: a.id }, 'the CHAP secret of an attachment does not open with this gateway\'s key');
      throw new Error(`The CHAP secret of attachment ${a.id} cannot be read: ${(err as Error).message}.`, { cause: err });
    }
  }

  async create(principal: Principal | null, input: CreateAttachmentRequest): Promise<AttachmentResult> {
    const p = requireWriter(principal);
    const problems = new Problems();
    if (!input.volumeId) problems.add('volumeId is required');
    checkInstanceId(problems, input.instanceId);
    checkIdempotencyKey(problems, input.idempotencyKey);
    const mode = input.mode ?? 'rw';
    if (!ATTACH_MODES.includes(mode)) problems.add(`mode must be RW or RO, got ${String(mode)}`);
    const requested = input.targetKind ?? null;
    if (requested !== null && !TARGET_KINDS.includes(requested)) problems.add(`targetKind must be ISCSI or NBD, got ${String(requested)}`);
    let connector: Connector | null = null;
    try {
      // Whether the initiator is needed depends on the target, chosen once the volume's pool is known.
      if (input.connector) connector = checkConnector(input.connector, { needsInitiator: false });
    } catch (err) {
      for (const msg of (err as { problems?: string[] }).problems ?? [(err as Error).message]) problems.add(msg);
    }
    problems.throwIfAny();

    const em = this.deps.db.fork();
    const volume = await findVolume(em, input.volumeId);
    if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
    const projectId = volume.projectId;
    const requestHash = createHash('sha256')
      .update(JSON.stringify(['attachment', input.volumeId, input.instanceId, mode, requested, connector]))
      .digest('hex');
    if (input.idempotencyKey) {
      const replay = await this.replay(em, projectId, input.idempotencyKey, requestHash);
      if (replay) return replay;
    }

    const attachmentId = randomUUID();
    const operationId = randomUUID();
    let read = volume;
    let created: (AttachmentResult & { volume: Volume }) | undefined;
    for (let attempt = 1; !created; attempt++) {
      const live = await liveAttachmentsOf(em, read.id);
      checkNewAttachment({ id: read.id, status: read.status, multiattach: read.multiattach, hasPool: !!read.host && !!read.pool }, live);
      const { kind } = this.targetFor(read, requested, connector);
      try {
        created = await em.transactional((tx) =>
          this.insert(tx, read, live.map((a) => a.status), { projectId, attachmentId, operationId, mode, kind, connector, requestHash, input }),
        );
      } catch (err) {
        if ((err instanceof UniqueConstraintViolationException || err instanceof VolumeMoved) && input.idempotencyKey) {
          const replay = await this.replay(this.deps.db.fork(), projectId, input.idempotencyKey, requestHash);
          if (replay) return replay;
        }
        if (!(err instanceof VolumeMoved)) throw err;
        const now = await findVolume(this.deps.db.fork(), volume.id);
        if (!now || now.status === 'deleted') throw new NotFoundError('Volume', volume.id);
        if (attempt >= CAS_ATTEMPTS) throw new ConflictError(`Volume ${volume.id} kept changing while this request ran; retry.`, { currentVersion: now.version });
        read = now;
      }
    }
    this.deps.live.publish('UPDATED', created.volume);
    this.deps.live.publishAttachment('CREATED', created.attachment);
    announceAndDispatch(this.deps, created.operation);
    this.deps.log.info({ attachmentId, volumeId: volume.id, status: created.attachment.status, kind: created.attachment.targetKind, mode }, 'attachment created');
    return { attachment: created.attachment, operation: created.operation };
  }

  /** The target kind for a new attachment of `volume`: the rule of src/domain/attachment-target-choice.ts over what its pool advertises. */
  private targetFor(volume: Volume, requested: AttachTargetKind | null, connector: Connector | null): TargetChoice {
    const stats = this.deps.pools.list().find((s) => s.host === volume.host && s.pool === volume.pool);
    return chooseAttachmentTarget({ pool: volume.pool!, host: volume.host!, offer: stats, requested, connector });
  }

  private async insert(
    tx: EntityManager,
    volume: Volume,
    liveStatuses: AttachmentStatus[],
    a: {
      projectId: string;
      attachmentId: string;
      operationId: string;
      mode: 'rw' | 'ro';
      kind: AttachTargetKind;
      connector: Connector | null;
      requestHash: string;
      input: CreateAttachmentRequest;
    },
  ): Promise<AttachmentResult & { volume: Volume }> {
    const status: AttachmentStatus = a.connector ? 'attaching' : 'reserved';
    const to = volumeStatusFromAttachments(volume.status, [...liveStatuses, status]);
    const moved = await casVolume(tx, volume.id, { from: [volume.status], expectedVersion: volume.version }, { status: to });
    if (!moved) throw new VolumeMoved();
    const chap = a.kind === 'iscsi' ? newChap(a.attachmentId) : null;
    const attachment = tx.create(Attachment, {
      id: a.attachmentId,
      projectId: a.projectId,
      volumeId: volume.id,
      instanceId: a.input.instanceId,
      status,
      mode: a.mode,
      targetKind: a.kind,
      connector: a.connector,
      chapUsername: chap?.username ?? null,
      chapSecret: chap ? sealChapSecret(this.secrets, a.attachmentId, chap.password) : null,
      host: volume.host,
      pool: volume.pool,
      exportRequested: !!a.connector,
      idempotencyKey: a.input.idempotencyKey ?? null,
      requestHash: a.requestHash,
    });
    const command = a.connector ? exportCommand(attachment, volume, a.operationId, this.secrets) : null;
    const operation = newAttachmentOperation(tx, a.projectId, 'create_attachment', a.attachmentId, command, a.operationId);
    if (!command) succeeded(operation);
    return { attachment, operation, volume: moved };
  }

  private async replay(em: EntityManager, projectId: string, key: string, requestHash: string): Promise<AttachmentResult | null> {
    const existing = await em.findOne(Attachment, { projectId, idempotencyKey: key }, { disableIdentityMap: true });
    if (!existing) return null;
    if (existing.requestHash !== requestHash) {
      throw new ConflictError(
        `idempotencyKey "${key}" was already used for attachment ${existing.id} with other parameters; use a new key for a different attachment.`,
        { attachmentId: existing.id },
      );
    }
    const operation = await em.findOneOrFail(Operation, { resourceId: existing.id, kind: 'create_attachment' }, { disableIdentityMap: true });
    return { attachment: existing, operation };
  }

  async update(principal: Principal | null, input: UpdateAttachmentRequest): Promise<AttachmentResult> {
    const p = requireWriter(principal);
    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    const connector = checkConnector(input.connector ?? {}, { needsInitiator: current.targetKind === 'iscsi' });
    assertAttachmentCanStart('update', current.status, current.id);
    const volume = await findVolume(em, current.volumeId);
    if (!volume || !volume.host || !volume.pool) throw new NotFoundError('Volume', current.volumeId);
    const operationId = randomUUID();
    const result = await em.transactional(async (tx) => {
      const attachment = await casAttachment(tx, current.id, { from: ['reserved'], expectedVersion: current.version }, {
        status: 'attaching',
        connector,
        host: volume.host,
        pool: volume.pool,
        exportRequested: true,
      });
      if (!attachment) throw await this.whyNot(tx, 'update', current.id);
      const operation = newAttachmentOperation(tx, current.projectId, 'update_attachment', current.id, exportCommand(attachment, volume, operationId, this.secrets), operationId);
      return { attachment, operation };
    });
    await this.after(result, 'attachment given its connector; exporting');
    return result;
  }

  async complete(principal: Principal | null, input: AttachmentIdRequest): Promise<AttachmentResult> {
    const p = requireWriter(principal);
    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    const plan = checkComplete({ id: current.id, status: current.status, exported: current.connection !== null });
    const result = await em.transactional(async (tx) => {
      const attachment =
        plan === 'noop'
          ? current
          : await casAttachment(tx, current.id, { from: ['attaching'], expectedVersion: current.version }, { status: 'attached', attachedAt: new Date() });
      if (!attachment) throw await this.whyNot(tx, 'complete', current.id);
      const operation = succeeded(newAttachmentOperation(tx, current.projectId, 'complete_attachment', current.id, null));
      return { attachment, operation };
    });
    await this.after(result, 'attachment completed');
    return result;
  }

  async delete(principal: Principal | null, input: AttachmentIdRequest): Promise<AttachmentResult> {
    const p = requireWriter(principal);
    const em = this.deps.db.fork();
    const current = await this.mustSee(p, input.id, em);
    assertAttachmentCanStart('delete', current.status, current.id);
    const result = await em.transactional((tx) => this.startDetach(tx, current, 'delete'));
    await this.after(result, 'attachment deleted');
    return result;
  }

  async forceDetach(principal: Principal | null, input: ForceDetachRequest): Promise<AttachmentResult & { audit: StatusAudit }> {
    const p = requireAdmin(principal, 'Force-detaching an attachment');
    const problems = new Problems();
    checkReason(problems, input.reason);
    problems.throwIfAny();
    const em = this.deps.db.fork();
    const current = await findAttachment(em, input.id);
    if (!current) throw new NotFoundError('Attachment', input.id);
    assertAttachmentCanStart('forceDetach', current.status, current.id);
    const result = await em.transactional(async (tx) => {
      const started = await this.startDetach(tx, current, 'forceDetach');
      const audit = addAudit(tx, {
        resourceType: 'attachment',
        resourceId: current.id,
        projectId: current.projectId,
        action: 'force_detach',
        fromStatus: current.status,
        toStatus: started.attachment.status,
        reason: input.reason,
        actor: p,
      });
      return { ...started, audit };
    });
    this.deps.log.info({ attachmentId: current.id, from: current.status, actorTokenId: p.tokenId }, 'attachment force-detached by an admin');
    await this.after(result, 'attachment force-detached');
    return result;
  }

  /** DETACHED at once when nothing was exported, else DETACHING with the agent's unexport command. */
  private async startDetach(tx: EntityManager, current: Attachment, action: 'delete' | 'forceDetach'): Promise<AttachmentResult> {
    const from = ATTACHMENT_ACTIONS[action].from;
    const guard = { from: [current.status].filter((s) => from.includes(s as never)), expectedVersion: current.version };
    const plan = deletePlan({ status: current.status, hasHost: current.host !== null, exportRequested: current.exportRequested });
    const kind = action === 'delete' ? 'delete_attachment' : 'force_detach';
    if (plan === 'detach') {
      const attachment = await casAttachment(tx, current.id, guard, { status: 'detached', detachedAt: new Date() });
      if (!attachment) throw await this.whyNot(tx, action, current.id);
      return { attachment, operation: succeeded(newAttachmentOperation(tx, current.projectId, kind, current.id, null)) };
    }
    const attachment = await casAttachment(tx, current.id, guard, { status: 'detaching' });
    if (!attachment) throw await this.whyNot(tx, action, current.id);
    const operationId = randomUUID();
    const payload: AgentUnexportAttachment = { operationId, attachmentId: current.id, volumeId: current.volumeId, targetKind: current.targetKind };
    const operation = newAttachmentOperation(tx, current.projectId, kind, current.id, {
      subject: subjects.agent(current.host!, ATTACHMENT_COMMAND.unexportAttachment),
      kind: ATTACHMENT_KIND.agentUnexport,
      payload,
      msgId: `${operationId}:${ATTACHMENT_KIND.agentUnexport}`,
    }, operationId);
    return { attachment, operation };
  }

  /** After the commit: the volume's status from its attachments, then the announcements and the command. */
  private async after(result: AttachmentResult, what: string): Promise<void> {
    const volume = await syncVolumeStatus(this.deps.db.fork(), result.attachment.volumeId);
    if (volume) this.deps.live.publish('UPDATED', volume);
    this.deps.live.publishAttachment('UPDATED', result.attachment);
    if (result.operation.command) announceAndDispatch(this.deps, result.operation);
    else this.deps.live.publishOperation(result.operation);
    this.deps.log.info({ attachmentId: result.attachment.id, status: result.attachment.status, operationId: result.operation.id }, what);
  }

  private async mustSee(p: Principal, id: string, em: EntityManager): Promise<Attachment> {
    const a = await this.visible(p, id, em);
    if (!a) throw new NotFoundError('Attachment', id);
    return a;
  }

  /** Why an attachment's compare-and-set did not apply: NOT_FOUND, INVALID_STATE from its status now, or CONFLICT. */
  private async whyNot(em: EntityManager, action: AttachmentAction, id: string): Promise<Error> {
    const now = await findAttachment(em, id);
    if (!now) return new NotFoundError('Attachment', id);
    const t = ATTACHMENT_ACTIONS[action];
    if (!(t.from as readonly string[]).includes(now.status)) return attachmentInvalidState(t, now.status, id);
    return new ConflictError(`Attachment ${id} changed while this request ran; read it again and retry.`, { currentVersion: now.version });
  }
}

/** CHAP credentials of one attachment: the username names it, the secret is 24 random hex characters. */
export function newChap(attachmentId: string): { username: string; password: string } {
  return { username: `flint-${attachmentId.replace(/-/g, '').slice(0, 12)}`, password: randomBytes(12).toString('hex') };
}

/** The agent's export command; the CHAP password in it is sealed (the agent opens it with the same key). */
function exportCommand(a: Attachment, volume: Volume, operationId: string, secrets: SecretBox): OutboxCommand {
  const chap = chapForBus(secrets, a);
  const payload: AgentExportAttachment = {
    operationId,
    attachmentId: a.id,
    volumeId: volume.id,
    pool: volume.pool!,
    targetKind: a.targetKind,
    mode: a.mode,
    ...(a.connector?.initiator ? { initiator: a.connector.initiator } : {}),
    ...(chap ? { chap } : {}),
  };
  return {
    subject: subjects.agent(volume.host!, ATTACHMENT_COMMAND.exportAttachment),
    kind: ATTACHMENT_KIND.agentExport,
    payload,
    msgId: `${operationId}:${ATTACHMENT_KIND.agentExport}`,
  };
}

export function newAttachmentOperation(
  tx: EntityManager,
  projectId: string,
  kind: OperationKind,
  attachmentId: string,
  command: OutboxCommand | null,
  id: string = randomUUID(),
): Operation {
  return tx.create(Operation, { id, projectId, kind, resourceType: 'attachment', resourceId: attachmentId, command });
}
