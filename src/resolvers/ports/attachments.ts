/** What the attachment resolvers need from the gateway (src/gateway/mutations/attachment.ts implements it). */
import type { Attachment, Operation, Principal, StatusAudit } from '../../db/index.js';
import type { AttachMode, AttachTargetKind } from '../../domain/attachment-states.js';
import type { ConnectorInput } from '../../domain/connector.js';
import type { DeleteAnswer } from './deletes.js';

export interface CreateAttachmentRequest {
  volumeId: string;
  instanceId: string;
  connector?: ConnectorInput | null;
  mode?: AttachMode | null;
  targetKind?: AttachTargetKind | null;
  idempotencyKey?: string | null;
}

export interface UpdateAttachmentRequest {
  id: string;
  connector: ConnectorInput;
}

export interface AttachmentIdRequest {
  id: string;
}

export interface ForceDetachRequest {
  id: string;
  reason: string;
}

export interface AttachmentResult {
  attachment: Attachment;
  operation: Operation;
}

export interface AttachmentDeleteResult extends DeleteAnswer {
  attachment: Attachment;
}

export interface AttachmentsPort {
  /** The attachment if it exists and the caller may see it (DETACHED ones too). */
  visible(p: Principal, id: string): Promise<Attachment | null>;
  /** The CHAP secret, for the attachment's project members and admins; null for anyone else. */
  chapSecretFor(p: Principal, a: { id: string; projectIdValue: string }, load?: (id: string) => Promise<Attachment | null>): Promise<string | null>;
  create(p: Principal | null, input: CreateAttachmentRequest): Promise<AttachmentResult>;
  update(p: Principal | null, input: UpdateAttachmentRequest): Promise<AttachmentResult>;
  complete(p: Principal | null, input: AttachmentIdRequest): Promise<AttachmentResult>;
  delete(p: Principal | null, input: AttachmentIdRequest): Promise<AttachmentDeleteResult>;
  forceDetach(p: Principal | null, input: ForceDetachRequest): Promise<AttachmentResult & { audit: StatusAudit }>;
}
