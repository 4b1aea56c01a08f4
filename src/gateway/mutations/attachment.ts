/**
 * The attachment mutations (Cinder's v3 attachments API), declared for the kernel
 * (kernel.ts): the state machines are src/domain/attachment-states.ts. The volume's status follows its attachments: a new
 * attachment moves it in the same transaction as a compare-and-set at the version read
 * (so two attachments of a volume without multiattach cannot both win); later changes
 * recompute it after their commit (`syncVolumeStatus`).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import {
  ATTACHMENT_COMMAND,
  ATTACHMENT_KIND,
  subjects,
  type AgentExportAttachment,
  type AgentUnexportAttachment,
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
import { chooseExportHost, type MemberBeat } from '../../domain/export-host.js';
import { canSee, requireAdmin, requireWriter } from '../../domain/access.js';
import { checkIdempotencyKey, ConflictError, NotFoundError, type OperationKind, type Problems } from '../../domain/index.js';
import type {
  AttachmentIdRequest,
  AttachmentDeleteResult,
  AttachmentResult,
  AttachmentsPort,
  CreateAttachmentRequest,
  ForceDetachRequest,
  UpdateAttachmentRequest,
} from '../../resolvers/ports/attachments.js';
import type { DeleteAnswer } from '../../resolvers/ports/deletes.js';
import type { SecretBox } from '../../domain/secret-box.js';
import { chapForBus, revealChapSecret, sealChapSecret } from './attachment-secrets.js';
import type { GatewayDeps, PoolList } from '../deps.js';
import { RETRY, runMutation } from './kernel.js';
import { settledDelete } from './settled.js';

const CAS_ATTEMPTS = 5;

/** The gateway's deps plus the pools' heartbeats (what each pool offers for exports) and the services' (which agents serve a backend host). */
export type AttachmentDeps = GatewayDeps & { pools: PoolList; services: () => readonly MemberBeat[] };

/** What a new attachment starts from: its volume as read, the live attachments of it, and the target chosen. */
interface NewAttachment {
  volume: Volume;
  /** The hash an idempotent create compares. */
  requestHash: string;
  live: AttachmentStatus[];
  kind: AttachTargetKind;
  /** The host that exports it (src/domain/export-host.ts). */
  host: string | null;
}

export class AttachmentMutations implements AttachmentsPort {
  /** @param secrets Seals the CHAP secrets stored and sent to agents (src/config/secret-key.ts). */
  constructor(
    private readonly deps: AttachmentDeps,
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

  create(principal: Principal | null, input: CreateAttachmentRequest): Promise<AttachmentResult> {
    const attachmentId = randomUUID();
    const mode = input.mode ?? 'rw';
    const requested = input.targetKind ?? null;
    let connector: Connector | null = null;
    return runMutation<NewAttachment, { attachment: Attachment; volume: Volume }, AttachmentResult>(this.deps, principal, {
      kind: 'create_attachment',
      resourceType: 'attachment',
      authorize: requireWriter,
      validate: (problems) => {
        if (!input.volumeId) problems.add('volumeId is required');
        checkInstanceId(problems, input.instanceId);
        checkIdempotencyKey(problems, input.idempotencyKey);
        if (!ATTACH_MODES.includes(mode)) problems.add(`mode must be RW or RO, got ${String(mode)}`);
        if (requested !== null && !TARGET_KINDS.includes(requested)) problems.add(`targetKind must be ISCSI or NBD, got ${String(requested)}`);
        try {
          // Whether the initiator is needed depends on the target, chosen once the volume's pool is known.
          if (input.connector) connector = checkConnector(input.connector, { needsInitiator: false });
        } catch (err) {
          for (const msg of (err as { problems?: string[] }).problems ?? [(err as Error).message]) problems.add(msg);
        }
      },
      load: async (em, p) => {
        const volume = await findVolume(em, input.volumeId);
        if (!volume || volume.status === 'deleted' || !canSee(p, volume.projectId)) throw new NotFoundError('Volume', input.volumeId);
        const requestHash = createHash('sha256').update(JSON.stringify(['attachment', input.volumeId, input.instanceId, mode, requested, connector])).digest('hex');
        return { volume, requestHash, live: [], kind: 'iscsi', host: null };
      },
      idempotency: ({ volume, requestHash }) =>
        input.idempotencyKey
          ? { entity: Attachment, projectId: volume.projectId, key: input.idempotencyKey, requestHash, replayed: (row, operation) => ({ attachment: row as Attachment, operation }) }
          : null,
      // CSI's ControllerPublish: the same instance on the same host attaching again gets its attachment back, key or not.
      settled: async (em, { volume }) => {
        const same = (await liveAttachmentsOf(em, volume.id)).find((a) => sameConsumer(a, input.instanceId, connector) && REPEATABLE.includes(a.status));
        if (!same) return null;
        if (same.mode !== mode || (requested !== null && same.targetKind !== requested)) {
          throw new ConflictError(
            `Instance ${input.instanceId} already has attachment ${same.id} of volume ${volume.id} on this host, ${same.mode.toUpperCase()} over ${same.targetKind.toUpperCase()}; ` +
              'ask for the same mode and target, or delete that attachment first.',
            { attachmentId: same.id },
          );
        }
        const operation = await em.findOne(Operation, { resourceId: same.id }, { orderBy: { createdAt: 'desc' }, disableIdentityMap: true });
        return operation && { attachment: same, operation };
      },
      check: async (em, { volume, requestHash }) => {
        const live = await liveAttachmentsOf(em, volume.id);
        checkNewAttachment({ id: volume.id, status: volume.status, multiattach: volume.multiattach, hasPool: !!volume.host && !!volume.pool }, live);
        const host = connector ? this.exportHost(volume, attachmentId) : volume.host;
        return { volume, requestHash, live: live.map((a) => a.status), kind: this.targetFor(volume, requested, connector).kind, host };
      },
      transition: async (tx, { volume, requestHash, live, kind, host }) => {
        const status: AttachmentStatus = connector ? 'attaching' : 'reserved';
        const to = volumeStatusFromAttachments(volume.status, [...live, status]);
        // At the version read: two attachments of a volume without multiattach cannot both win.
        const moved = await casVolume(tx, volume.id, { from: [volume.status], expectedVersion: volume.version }, { status: to });
        if (!moved) return null;
        const chap = kind === 'iscsi' ? newChap(attachmentId) : null;
        const attachment = tx.create(Attachment, {
          id: attachmentId,
          projectId: volume.projectId,
          volumeId: volume.id,
          instanceId: input.instanceId,
          status,
          mode,
          targetKind: kind,
          connector,
          chapUsername: chap?.username ?? null,
          chapSecret: chap ? sealChapSecret(this.secrets, attachmentId, chap.password) : null,
          host,
          pool: volume.pool,
          exportRequested: !!connector,
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash,
        });
        return { attachment, volume: moved };
      },
      whyNot: async (tx, { volume }, attempt) => {
        const now = await findVolume(tx, volume.id);
        if (!now || now.status === 'deleted') return new NotFoundError('Volume', volume.id);
        if (attempt >= CAS_ATTEMPTS) return new ConflictError(`Volume ${volume.id} kept changing while this request ran; retry.`, { currentVersion: now.version });
        return RETRY;
      },
      attempts: CAS_ATTEMPTS,
      operation: ({ attachment, volume }, _loaded, operationId) => ({
        projectId: attachment.projectId,
        resourceId: attachment.id,
        command: connector ? exportCommand(attachment, volume, operationId, this.secrets) : null,
      }),
      announce: (deps, { attachment, volume }) => {
        deps.live.publish('UPDATED', volume);
        deps.live.publishAttachment('CREATED', attachment);
        deps.log.info({ attachmentId, volumeId: volume.id, status: attachment.status, kind: attachment.targetKind, mode }, 'attachment created');
      },
      result: ({ attachment }, operation) => ({ attachment, operation: operation! }),
    });
  }

  /** The target kind for a new attachment of `volume`: the rule of src/domain/attachment-target-choice.ts over what its pool advertises. */
  private targetFor(volume: Volume, requested: AttachTargetKind | null, connector: Connector | null): TargetChoice {
    const stats = this.deps.pools.list().find((s) => s.host === volume.host && s.pool === volume.pool);
    return chooseAttachmentTarget({ pool: volume.pool!, host: volume.host!, offer: stats, requested, connector });
  }

  /**
   * The host that exports a new export of `volume`: its own host, or for a backend host's
   * volume an UP member agent of that backend (src/domain/export-host.ts, from the services'
   * heartbeats, as the gateway's watch has them). With no member UP, a member all the same: the
   * command waits in its queue, as for a volume on a DOWN host.
   */
  private exportHost(volume: Volume, attachmentId: string): string {
    const choice = chooseExportHost(volume.host!, attachmentId, this.deps.services());
    if (!choice.up) this.deps.log.warn({ attachmentId, backendHost: volume.host, members: choice.members, host: choice.host }, 'no agent of the volume\'s backend host is UP; the export waits for one');
    return choice.host;
  }

  update(principal: Principal | null, input: UpdateAttachmentRequest): Promise<AttachmentResult> {
    return this.started(principal, {
      kind: 'update_attachment',
      action: 'update',
      id: input.id,
      what: 'attachment given its connector; exporting',
      load: async (em, current) => {
        const connector = checkConnector(input.connector ?? {}, { needsInitiator: current.targetKind === 'iscsi' });
        assertAttachmentCanStart('update', current.status, current.id);
        const volume = await findVolume(em, current.volumeId);
        if (!volume || !volume.host || !volume.pool) throw new NotFoundError('Volume', current.volumeId);
        return { current, volume, connector, host: this.exportHost(volume, current.id) };
      },
      transition: (tx, { current, volume, connector, host }) =>
        casAttachment(tx, current.id, { from: ['reserved'], expectedVersion: current.version }, { status: 'attaching', connector, host, pool: volume!.pool, exportRequested: true }),
      command: (attachment, { volume }, operationId) => exportCommand(attachment, volume!, operationId, this.secrets),
    });
  }

  complete(principal: Principal | null, input: AttachmentIdRequest): Promise<AttachmentResult> {
    return this.started(principal, {
      kind: 'complete_attachment',
      action: 'complete',
      id: input.id,
      what: 'attachment completed',
      load: async (_em, current) => ({ current, plan: checkComplete({ id: current.id, status: current.status, exported: current.connection !== null }) }),
      transition: async (tx, { current, plan }) =>
        plan === 'noop' ? current : casAttachment(tx, current.id, { from: ['attaching'], expectedVersion: current.version }, { status: 'attached', attachedAt: new Date() }),
    });
  }

  delete(principal: Principal | null, input: AttachmentIdRequest): Promise<AttachmentDeleteResult> {
    return this.change(principal, {
      kind: 'delete_attachment',
      action: 'delete',
      id: input.id,
      what: 'attachment deleted',
      load: async (_em, current) => ({ current }),
      // DETACHED already, or DETACHING under a delete or a force-detach.
      settled: (em, { current }) => settledDelete(em, current, { gone: ['detached'], removedBy: [{ resourceId: current.id, kinds: ['delete_attachment', 'force_detach'] }] }),
      check: ({ current }) => assertAttachmentCanStart('delete', current.status, current.id),
      ...detachRules('delete'),
    });
  }

  forceDetach(principal: Principal | null, input: ForceDetachRequest): Promise<AttachmentResult & { audit: StatusAudit }> {
    let audit: StatusAudit | undefined;
    return this.started(principal, {
      kind: 'force_detach',
      action: 'forceDetach',
      id: input.id,
      admin: 'Force-detaching an attachment',
      validate: (problems) => checkReason(problems, input.reason),
      what: 'attachment force-detached',
      load: async (_em, current) => {
        assertAttachmentCanStart('forceDetach', current.status, current.id);
        return { current };
      },
      ...detachRules('forceDetach'),
      alsoRecord: (tx, attachment, { current }, p) => {
        audit = addAudit(tx, {
          resourceType: 'attachment',
          resourceId: current.id,
          projectId: current.projectId,
          action: 'force_detach',
          fromStatus: current.status,
          toStatus: attachment.status,
          reason: input.reason,
          actor: p,
        });
      },
    }).then((r) => {
      this.deps.log.info({ attachmentId: r.attachment.id, from: audit!.fromStatus, actorTokenId: audit!.actorTokenId }, 'attachment force-detached by an admin');
      return { ...r, audit: audit! };
    });
  }

  /**
   * The rules every change of an existing attachment shares: the caller may see it (an
   * admin action: any), a compare-and-set at the version read, and after the commit the
   * volume's status recomputed from its attachments.
   */
  private change<L extends { current: Attachment; volume?: Volume }>(principal: Principal | null, r: AttachmentChange<L>): Promise<AttachmentDeleteResult> {
    return runMutation<L, Attachment, AttachmentDeleteResult>(this.deps, principal, {
      kind: r.kind,
      resourceType: 'attachment',
      authorize: (p) => (r.admin ? requireAdmin(p, r.admin) : requireWriter(p)),
      ...(r.validate ? { validate: r.validate } : {}),
      load: async (em, p) => {
        const current = r.admin ? await findAttachment(em, r.id) : await this.visible(p, r.id, em);
        if (!current) throw new NotFoundError('Attachment', r.id);
        return r.load(em, current);
      },
      ...(r.settled ? { settled: async (em: EntityManager, l: L) => { const a = await r.settled!(em, l); return a && { attachment: l.current, ...a }; } } : {}),
      ...(r.check ? { check: (_em: EntityManager, l: L) => (r.check!(l), l) } : {}),
      transition: (tx, loaded, operationId) => r.transition(tx, loaded, operationId),
      whyNot: (tx, { current }) => attachmentWhyNot(tx, r.action, current.id),
      operation: (attachment, loaded, operationId) => ({ projectId: attachment.projectId, resourceId: attachment.id, command: r.command?.(attachment, loaded, operationId) ?? null }),
      ...(r.alsoRecord ? { alsoRecord: async (tx: EntityManager, a: Attachment, l: L, p: Principal) => (await r.alsoRecord!(tx, a, l, p), a) } : {}),
      // The volume's status follows its attachments, recomputed after the commit.
      announce: async (deps, attachment) => {
        const volume = await syncVolumeStatus(deps.db.fork(), attachment.volumeId);
        if (volume) deps.live.publish('UPDATED', volume);
        deps.live.publishAttachment('UPDATED', attachment);
      },
      result: (attachment, operation) => {
        this.deps.log.info({ attachmentId: attachment.id, status: attachment.status, operationId: operation!.id }, r.what);
        return { attachment, operation, alreadyDeleted: false };
      },
    });
  }

  /** A change that always starts work (no `settled` answer): its operation is there. */
  private async started<L extends { current: Attachment; volume?: Volume }>(principal: Principal | null, r: Omit<AttachmentChange<L>, 'settled'>): Promise<AttachmentResult> {
    const { attachment, operation } = await this.change(principal, r);
    return { attachment, operation: operation! };
  }
}

/** What one change of an existing attachment declares (see `AttachmentMutations.change`). */
interface AttachmentChange<L extends { current: Attachment }> {
  kind: OperationKind;
  action: AttachmentAction;
  id: string;
  /** For an admin action: what the FORBIDDEN message says is refused. */
  admin?: string;
  validate?(problems: Problems): void;
  /** Logged after the commit. */
  what: string;
  load(em: EntityManager, current: Attachment): Promise<L>;
  /** The answer when there is nothing to start (the kernel's `settled`): a delete of a DETACHED attachment. */
  settled?(em: EntityManager, loaded: L): Promise<DeleteAnswer | null>;
  /** Checks the state the change starts from, after `settled` had its chance; throws INVALID_STATE. */
  check?(loaded: L): void;
  transition(tx: EntityManager, loaded: L, operationId: string): Promise<Attachment | null>;
  command?(attachment: Attachment, loaded: L, operationId: string): OutboxCommand | null;
  alsoRecord?(tx: EntityManager, attachment: Attachment, loaded: L, principal: Principal): void | Promise<void>;
}

/** The states in which an attachment is answered again to a repeated create (not one being removed or failed). */
const REPEATABLE: readonly AttachmentStatus[] = ['reserved', 'attaching', 'attached'];

/** Whether an attachment is for this instance on this connector's host (a reservation: no connector on either). */
function sameConsumer(a: Attachment, instanceId: string, connector: Connector | null): boolean {
  return a.instanceId === instanceId && (a.connector?.host ?? null) === (connector?.host ?? null);
}

/** Detaching (delete, force-detach): DETACHED at once when nothing was exported, else DETACHING with the agent's unexport command. */
function detachRules(action: 'delete' | 'forceDetach'): Pick<AttachmentChange<{ current: Attachment }>, 'transition' | 'command'> {
  const from = ATTACHMENT_ACTIONS[action].from;
  const exported = (a: Attachment) => deletePlan({ status: a.status, hasHost: a.host !== null, exportRequested: a.exportRequested }) !== 'detach';
  return {
    transition: (tx, { current }) => {
      const guard = { from: [current.status].filter((s) => from.includes(s as never)), expectedVersion: current.version };
      return casAttachment(tx, current.id, guard, exported(current) ? { status: 'detaching' } : { status: 'detached', detachedAt: new Date() });
    },
    command: (attachment, { current }, operationId) => {
      if (!exported(current)) return null;
      const payload: AgentUnexportAttachment = { operationId, attachmentId: current.id, volumeId: current.volumeId, targetKind: current.targetKind };
      return { subject: subjects.agent(current.host!, ATTACHMENT_COMMAND.unexportAttachment), kind: ATTACHMENT_KIND.agentUnexport, payload, msgId: `${operationId}:${ATTACHMENT_KIND.agentUnexport}` };
    },
  };
}

/** Why an attachment's compare-and-set did not apply: NOT_FOUND, INVALID_STATE from its status now, or CONFLICT. */
async function attachmentWhyNot(em: EntityManager, action: AttachmentAction, id: string): Promise<Error> {
  const now = await findAttachment(em, id);
  if (!now) return new NotFoundError('Attachment', id);
  const t = ATTACHMENT_ACTIONS[action];
  if (!(t.from as readonly string[]).includes(now.status)) return attachmentInvalidState(t, now.status, id);
  return new ConflictError(`Attachment ${id} changed while this request ran; read it again and retry.`, { currentVersion: now.version });
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
    // The attachment's host: the volume's, or the backend member chosen to export it.
    subject: subjects.agent(a.host ?? volume.host!, ATTACHMENT_COMMAND.exportAttachment),
    kind: ATTACHMENT_KIND.agentExport,
    payload,
    msgId: `${operationId}:${ATTACHMENT_KIND.agentExport}`,
  };
}
