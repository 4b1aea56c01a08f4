/**
 * Attachment contracts (issue 4): the agent commands that export a volume for one
 * attachment, remove the export, and make the consumer see a new size; their outcome
 * event on `flint.evt.agent.<host>.attachment.<id>`; the live view fanned out to subscribers; what
 * the start-up reconciliation tells an agent to export. Imports nothing of the roles.
 */
import { z } from 'zod';
import { ATTACHMENT_STATUSES, ATTACH_MODES, TARGET_KINDS } from '../../domain/attachment-states.js';

const id = z.string().min(1).max(128);

export const chapCredentials = z.object({ username: z.string().min(1).max(64), password: z.string().min(12).max(255) });

/** Export `volumeId` (on `pool`) for one attachment, through the agent's target of `targetKind`. */
export const agentExportAttachment = z.object({
  operationId: id,
  attachmentId: id,
  volumeId: id,
  pool: z.string(),
  targetKind: z.enum(TARGET_KINDS),
  mode: z.enum(ATTACH_MODES),
  /** The connector's initiator: the only one the iSCSI target lets in. */
  initiator: z.string().optional(),
  /** iSCSI only; the password sealed (src/domain/secret-box.ts, the attachment id as associated data). Never logged. */
  chap: chapCredentials.optional(),
});
export type AgentExportAttachment = z.infer<typeof agentExportAttachment>;

export const agentUnexportAttachment = z.object({ operationId: id, attachmentId: id, volumeId: id, targetKind: z.enum(TARGET_KINDS) });
export type AgentUnexportAttachment = z.infer<typeof agentUnexportAttachment>;

/** The volume grew: make the consumer of this export see the new size. */
export const agentRefreshAttachment = z.object({ operationId: id, attachmentId: id, volumeId: id, targetKind: z.enum(TARGET_KINDS) });
export type AgentRefreshAttachment = z.infer<typeof agentRefreshAttachment>;

/** The volume is encrypted at rest and the export decrypts it: set by the agent that opened it with its key (optional: older agents did not send it). */
const encryptedFlag = z.boolean().optional();

/** The target's answer (src/node-agent/targets/target.ts `ConnectionData`), and whether the agent decrypts the volume for it. */
export const connectionData = z.discriminatedUnion('driverVolumeType', [
  z.object({
    driverVolumeType: z.literal('iscsi'),
    targetIqn: z.string(),
    targetPortal: z.string(),
    targetLun: z.number().int(),
    accessMode: z.enum(ATTACH_MODES),
    discard: z.boolean(),
    encrypted: encryptedFlag,
  }),
  z.object({
    driverVolumeType: z.literal('nbd'),
    host: z.string(),
    port: z.number().int(),
    exportName: z.string(),
    accessMode: z.enum(ATTACH_MODES),
    uri: z.string(),
    /** Set when the server requires TLS: the CA certificate (PEM) clients verify it with. */
    tls: z.object({ caCertificate: z.string(), clientCertificateRequired: z.boolean() }).optional(),
    encrypted: encryptedFlag,
  }),
]);
export type ConnectionDataMessage = z.infer<typeof connectionData>;

export const ATTACHMENT_OUTCOME_NAMES = [
  'export.succeeded',
  'export.failed',
  'unexport.succeeded',
  'unexport.failed',
  'refresh.succeeded',
  'refresh.failed',
] as const;
export const attachmentOutcome = z.object({
  operationId: id,
  attachmentId: id,
  volumeId: id,
  outcome: z.enum(ATTACHMENT_OUTCOME_NAMES),
  /** With `export.succeeded`. */
  connection: connectionData.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type AttachmentOutcomeEvent = z.infer<typeof attachmentOutcome>;

/** The API's view of an attachment on `flint.live.<project>.attachment.<id>`: no CHAP secret. */
export const attachmentView = z.object({
  id: id,
  projectId: id,
  volumeId: id,
  instanceId: z.string(),
  status: z.enum(ATTACHMENT_STATUSES),
  mode: z.enum(ATTACH_MODES),
  targetKind: z.enum(TARGET_KINDS),
  connector: z
    .object({
      initiator: z.string().nullable(),
      host: z.string(),
      ip: z.string().nullable(),
      multipath: z.boolean(),
      platform: z.string().nullable(),
      osType: z.string().nullable(),
    })
    .nullable(),
  connection: connectionData.nullable(),
  chapUsername: z.string().nullable(),
  version: z.number().int(),
  /** The seq of its latest change in its project's change feed (optional: older gateways did not send it). */
  changeSeq: z.number().int().optional(),
  /** The key it was created with (optional: older gateways did not send it). */
  idempotencyKey: z.string().nullable().optional(),
  attachedAt: z.string().nullable(),
  detachedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AttachmentView = z.infer<typeof attachmentView>;
export const liveAttachment = z.object({ type: z.enum(['CREATED', 'UPDATED', 'DELETED']), attachment: attachmentView });
export type LiveAttachment = z.infer<typeof liveAttachment>;

/** An export the DB says a host should have (in the reconcile reply), with its secret. */
export const reconcileAttachment = agentExportAttachment.omit({ operationId: true });
export type ReconcileAttachment = z.infer<typeof reconcileAttachment>;
