/**
 * What the list queries and `node(id)` need from the gateway (src/gateway/queries/reads.ts
 * implements it): who may see what, the page size rule and the store calls live there, so a
 * resolver only turns GraphQL arguments into a request and rows into objects.
 */
import type { OperationProgress, ProgressKeyed } from '../../domain/operation-progress.js';
import type { VolumeView } from '../../bus/contract/index.js';
import type {
  Attachment,
  AttachmentListFilter,
  AuditListFilter,
  Backup,
  BackupListFilter,
  MessageListFilter,
  Operation,
  OperationListFilter,
  Page,
  Principal,
  Snapshot,
  SnapshotListFilter,
  StatusAudit,
  UserMessage,
  Volume,
  VolumeListFilter,
  VolumeType,
} from '../../db/index.js';

/**
 * A page of a list as the API's arguments give it (Relay): forward, `first` items (0 to 500,
 * default 50) after `after` (the previous page's `endCursor`); or backward, the `last` items
 * before `before` (the next page's `startCursor`). The gateway checks them together
 * (src/gateway/queries/page.ts).
 */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

/** One page of a list and a filter; the gateway checks them. */
export interface ListRequest<F> extends PageArgs {
  filter?: F;
}

/** A list filter whose `metadata` condition is as the client sent it (any JSON object): the gateway checks it. */
export type UncheckedMetadata<F extends { metadata?: Record<string, string> }> = Omit<F, 'metadata'> & { metadata?: unknown };

/** Whatever `node(id)` found, tagged with what it is. */
export type FoundNode =
  | { kind: 'volume'; row: Volume }
  | { kind: 'snapshot'; row: Snapshot }
  | { kind: 'backup'; row: Backup }
  | { kind: 'attachment'; row: Attachment }
  | { kind: 'operation'; row: Operation }
  | { kind: 'volumeType'; row: VolumeType };

export interface ReadsPort {
  /** How far an operation's work has come, as the latest report says; null for work without progress or before the first report. */
  progressOf(op: ProgressKeyed): OperationProgress | null;
  /** A volume by id if it is not DELETED and the caller may see it, else null (UNAUTHENTICATED without a token). */
  volume(p: Principal | null, id: string): Promise<VolumeView | null>;
  /** The caller's project's volumes (every project's for admins), oldest first; DELETED ones only when the filter asks. */
  volumes(p: Principal | null, request: ListRequest<UncheckedMetadata<VolumeListFilter>>): Promise<Page<VolumeView>>;
  /** As `volumes`, for snapshots. */
  snapshots(p: Principal | null, request: ListRequest<UncheckedMetadata<SnapshotListFilter>>): Promise<Page<Snapshot>>;
  /** As `volumes`, for backups. */
  backups(p: Principal | null, request: ListRequest<BackupListFilter>): Promise<Page<Backup>>;
  /** As `volumes`, for attachments; DETACHED ones only when the filter asks. */
  attachments(p: Principal | null, request: ListRequest<AttachmentListFilter>): Promise<Page<Attachment>>;
  /** The caller's project's operations, newest first. */
  operations(p: Principal | null, request: ListRequest<OperationListFilter>): Promise<Page<Operation>>;
  /** The caller's project's user messages that have not expired, newest first. */
  messages(p: Principal | null, request: ListRequest<MessageListFilter>): Promise<Page<UserMessage>>;
  /** Admins: the status audit, newest first. */
  audits(p: Principal | null, request: ListRequest<AuditListFilter>): Promise<Page<StatusAudit>>;
  /** Any object the caller may see by its id (Relay's `node`), or null. */
  node(p: Principal | null, id: string): Promise<FoundNode | null>;
}
